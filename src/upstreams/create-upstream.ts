// upstreams: the one interface the core needs from an inference server, and its implementations.
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../config.ts";
import { createLmStudioUpstream } from "./lmstudio/index.ts";
import { createOpenAiCompatibleUpstream } from "./openai-compatible/index.ts";
import type { Upstream } from "./types.ts";

/** The configured upstream (UPSTREAM_KIND): the core never asks which kind it got. */
export function createUpstream(config: Config, logger: FastifyBaseLogger): Upstream {
  return config.upstreamKind === "openai"
    ? createOpenAiCompatibleUpstream(config)
    : createLmStudioUpstream(config, logger);
}
