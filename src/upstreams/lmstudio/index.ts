/** LM Studio as an upstream: its SDK websocket manages models, its OpenAI-compatible API chats. */
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../../config.ts";
import { createChatEngine } from "../openai-compatible/chat-engine.ts";
import { createEmbeddingEngine } from "../openai-compatible/embedding-engine.ts";
import { createForwardRaw } from "../openai-compatible/forward-raw.ts";
import { createChatErrorMapper } from "../openai-compatible/map-openai-error.ts";
import { createUndiciFetch } from "../openai-compatible/undici-fetch.ts";
import type { Upstream } from "../types.ts";
import { convertWebpImages, hasWebp } from "./convert-webp-images.ts";
import { createRestModelList } from "./list-models-over-rest.ts";
import { LMSTUDIO, recogniseLmStudioChatError } from "./map-lmstudio-error.ts";
import { createModelManager } from "./model-manager.ts";
import { probeOpenAiBaseUrl } from "./probe-openai-base-url.ts";

/** LM Studio checks one token on both faces, so both settings hold the same token. */
const TOKEN_HINT =
  "OPENAI_API_KEY (chat, HTTP) and LMSTUDIO_API_TOKEN (models, SDK) to your LM Studio API token: the same token in both";

export function createLmStudioUpstream(config: Config, logger: FastifyBaseLogger): Upstream {
  const http = createUndiciFetch({
    connectTimeoutMs: config.connectTimeoutMs,
    socketTimeoutMs: Math.max(config.firstTokenTimeoutMs, config.chunkTimeoutMs) + 1_000,
  });
  const models = createModelManager({
    baseUrl: config.lmstudioBaseUrl,
    listLoadedOverHttp: createRestModelList(
      new URL(config.openaiBaseUrl).origin,
      config.openaiApiKey,
      http.fetch,
      config.sdkTimeoutMs,
    ),
    apiToken: config.lmstudioApiToken,
    sdkTimeoutMs: config.sdkTimeoutMs,
    loadTimeoutMs: config.loadTimeoutMs,
    logger,
  });
  const mapError = createChatErrorMapper({
    name: LMSTUDIO,
    baseUrl: config.openaiBaseUrl,
    credentialsHint: TOKEN_HINT,
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
  const raw = createForwardRaw({
    name: LMSTUDIO,
    baseUrl: config.openaiBaseUrl,
    baseUrlSetting: "OPENAI_BASE_URL",
    apiKey: config.openaiApiKey,
    connectTimeoutMs: config.connectTimeoutMs,
    firstByteTimeoutMs: config.firstTokenTimeoutMs,
    idleTimeoutMs: config.chunkTimeoutMs,
    mapError,
  });
  return {
    name: LMSTUDIO,
    probe: () =>
      probeOpenAiBaseUrl(config.openaiBaseUrl, config.openaiApiKey, http.fetch, config.sdkTimeoutMs),
    capabilities: { listDownloaded: true, loadUnload: true, loadProgress: true },
    models,
    embeddings,
    downloads: models,
    chat: {
      // Only chats with WebP images get a layer of their own: a generator per chat and a step per
      // event otherwise, for nothing.
      stream(request) {
        if (!request.messages.some(hasWebp)) return chat.stream(request);
        return (async function* () {
          yield* chat.stream({ ...request, messages: await convertWebpImages(request.messages) });
        })();
      },
    },
    passthrough: raw.passthrough,
    async close() {
      await Promise.all([models.close(), http.close(), raw.close()]);
    },
  };
}
