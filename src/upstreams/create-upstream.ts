// upstreams: the one interface the core needs from an inference server, and its implementations.
import type { FastifyBaseLogger } from "fastify";
import type { Config, UpstreamSettings } from "../config.ts";
import { createLmStudioUpstream } from "./lmstudio/index.ts";
import { createMultiUpstream } from "./multi/index.ts";
import { createOpenAiCompatibleUpstream } from "./openai-compatible/index.ts";
import type { Upstream } from "./types.ts";

/** The configuration with one upstream's settings in place of the single-upstream variables. */
function configFor(config: Config, u: UpstreamSettings): Config {
  return {
    ...config,
    upstreamKind: u.kind,
    openaiBaseUrl: u.openaiBaseUrl,
    openaiApiKey: u.openaiApiKey,
    lmstudioBaseUrl: u.lmstudioBaseUrl,
    lmstudioApiToken: u.lmstudioApiToken,
  };
}

function createOne(config: Config, logger: FastifyBaseLogger): Upstream {
  return config.upstreamKind === "openai"
    ? createOpenAiCompatibleUpstream(config)
    : createLmStudioUpstream(config, logger);
}

/**
 * The configured upstream: with one (UPSTREAM_KIND and its URLs, or a file naming one), that
 * upstream itself; with several, one Upstream routing among them. The core never asks which.
 */
export function createUpstream(config: Config, logger: FastifyBaseLogger): Upstream {
  const [only, ...more] = config.upstreams;
  if (only === undefined || more.length === 0) {
    return createOne(only ? configFor(config, only) : config, logger);
  }
  return createMultiUpstream(
    config.upstreams.map((u) => ({
      settings: {
        name: u.name,
        kind: u.kind,
        url: u.openaiBaseUrl,
        capacity: u.maxConcurrentChats ?? config.maxChatsPerModel,
        weight: u.weight,
      },
      upstream: createOne(configFor(config, u), logger.child({ upstream: u.name })),
    })),
    {
      checkIntervalMs: config.upstreamCheckIntervalMs,
      checkTimeoutMs: Math.min(config.sdkTimeoutMs, 1_500),
      loadTimeoutMs: config.loadTimeoutMs,
      logger,
    },
  );
}
