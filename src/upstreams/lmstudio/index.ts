/** LM Studio as an upstream: its SDK websocket manages models, its OpenAI-compatible API chats. */
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../../config.ts";
import { createChatEngine } from "../openai-compatible/chat-engine.ts";
import { createEmbeddingEngine } from "../openai-compatible/embedding-engine.ts";
import { createChatErrorMapper } from "../openai-compatible/map-openai-error.ts";
import { createUndiciFetch } from "../openai-compatible/undici-fetch.ts";
import type { Upstream } from "../types.ts";
import { convertWebpImages } from "./convert-webp-images.ts";
import { LMSTUDIO, recogniseLmStudioChatError } from "./map-lmstudio-error.ts";
import { createModelManager } from "./model-manager.ts";

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
  const mapError = createChatErrorMapper({
    name: LMSTUDIO,
    baseUrl: config.openaiBaseUrl,
    credentialsHint: "OPENAI_API_KEY to a valid LM Studio API token",
    recognise: recogniseLmStudioChatError,
  });
  const embeddings = createEmbeddingEngine({
    name: LMSTUDIO,
    baseURL: config.openaiBaseUrl,
    apiKey: config.openaiApiKey,
    fetch: http.fetch,
    timeoutMs: config.firstTokenTimeoutMs,
    mapError,
  });
  const chat = createChatEngine({
    name: LMSTUDIO,
    baseURL: config.openaiBaseUrl,
    baseUrlSetting: "OPENAI_BASE_URL",
    apiKey: config.openaiApiKey,
    fetch: http.fetch,
    firstTokenTimeoutMs: config.firstTokenTimeoutMs,
    chunkTimeoutMs: config.chunkTimeoutMs,
    mapError,
  });
  return {
    name: LMSTUDIO,
    capabilities: { listDownloaded: true, loadUnload: true, loadProgress: true },
    models,
    embeddings,
    downloads: models,
    chat: {
      async *stream(request) {
        yield* chat.stream({ ...request, messages: await convertWebpImages(request.messages) });
      },
    },
    async close() {
      await Promise.all([models.close(), http.close()]);
    },
  };
}
