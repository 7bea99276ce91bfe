import type { Config } from "../../config.ts";
import { createChatEngine } from "./chat-engine.ts";
import { createEmbeddingEngine } from "./embedding-engine.ts";
import { createForwardRaw } from "./forward-raw.ts";
import type { ChatErrorMapper } from "./map-openai-error.ts";
import { createUndiciFetch } from "./undici-fetch.ts";

type ClientSettings = Pick<
  Config,
  "openaiBaseUrl" | "openaiApiKey" | "connectTimeoutMs" | "firstTokenTimeoutMs" | "chunkTimeoutMs"
>;

/**
 * Everything that talks to one OpenAI-compatible API (LM Studio's, or a plain engine's), with the
 * same URL, key, timeouts and error mapping: the fetch, chats, embeddings and the raw forwarder.
 */
export function createOpenAiCompatibleClients(
  name: string,
  config: ClientSettings,
  mapError: ChatErrorMapper,
) {
  const http = createUndiciFetch({
    connectTimeoutMs: config.connectTimeoutMs,
    socketTimeoutMs: Math.max(config.firstTokenTimeoutMs, config.chunkTimeoutMs) + 1_000,
  });
  const api = { name, baseUrlSetting: "OPENAI_BASE_URL", apiKey: config.openaiApiKey, mapError };
  const chat = createChatEngine({
    ...api,
    baseURL: config.openaiBaseUrl,
    fetch: http.fetch,
    firstTokenTimeoutMs: config.firstTokenTimeoutMs,
    chunkTimeoutMs: config.chunkTimeoutMs,
  });
  const embeddings = createEmbeddingEngine({
    name,
    baseURL: config.openaiBaseUrl,
    apiKey: config.openaiApiKey,
    fetch: http.fetch,
    timeoutMs: config.firstTokenTimeoutMs,
    mapError,
  });
  const raw = createForwardRaw({
    ...api,
    baseUrl: config.openaiBaseUrl,
    connectTimeoutMs: config.connectTimeoutMs,
    firstByteTimeoutMs: config.firstTokenTimeoutMs,
    idleTimeoutMs: config.chunkTimeoutMs,
  });
  return {
    fetch: http.fetch,
    chat,
    embeddings,
    passthrough: raw.passthrough,
    close: () => Promise.all([http.close(), raw.close()]).then(() => undefined),
  };
}
