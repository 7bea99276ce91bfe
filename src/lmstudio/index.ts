import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../config.ts";
import type { Upstream } from "../upstream/types.ts";
import { createChatEngine } from "./chat-engine.ts";
import { createModelManager } from "./model-manager.ts";
import { createUndiciFetch } from "./undici-fetch.ts";

/** LM Studio as an Upstream: the SDK websocket for models, the OpenAI-compatible API for chat. */
export function createLmStudioUpstream(config: Config, logger: FastifyBaseLogger): Upstream {
  const http = createUndiciFetch({
    connectTimeoutMs: config.connectTimeoutMs,
    socketTimeoutMs: Math.max(config.firstTokenTimeoutMs, config.chunkTimeoutMs) + 1_000,
  });
  const models = createModelManager({
    baseUrl: config.lmstudioBaseUrl,
    apiToken: config.lmstudioApiToken,
    sdkTimeoutMs: config.sdkTimeoutMs,
    loadTimeoutMs: config.loadTimeoutMs,
    logger,
  });
  const chat = createChatEngine({
    baseURL: config.openaiBaseUrl,
    apiKey: config.openaiApiKey,
    fetch: http.fetch,
    firstTokenTimeoutMs: config.firstTokenTimeoutMs,
    chunkTimeoutMs: config.chunkTimeoutMs,
  });
  return {
    models,
    chat,
    async close() {
      await Promise.all([models.close(), http.close()]);
    },
  };
}
