/** LM Studio as an upstream: its SDK websocket manages models, its OpenAI-compatible API chats. */
import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../../config.ts";
import { createOpenAiCompatibleClients } from "../openai-compatible/create-clients.ts";
import { createChatErrorMapper } from "../openai-compatible/map-openai-error.ts";
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
  const mapError = createChatErrorMapper({
    name: LMSTUDIO,
    baseUrl: config.openaiBaseUrl,
    credentialsHint: TOKEN_HINT,
    recognise: recogniseLmStudioChatError,
  });
  const api = createOpenAiCompatibleClients(LMSTUDIO, config, mapError);
  const models = createModelManager({
    baseUrl: config.lmstudioBaseUrl,
    listLoadedOverHttp: createRestModelList(
      new URL(config.openaiBaseUrl).origin,
      config.openaiApiKey,
      api.fetch,
      config.sdkTimeoutMs,
    ),
    apiToken: config.lmstudioApiToken,
    sdkTimeoutMs: config.sdkTimeoutMs,
    loadTimeoutMs: config.loadTimeoutMs,
    logger,
  });
  const chat = api.chat;
  return {
    name: LMSTUDIO,
    probe: () =>
      probeOpenAiBaseUrl(config.openaiBaseUrl, config.openaiApiKey, api.fetch, config.sdkTimeoutMs),
    capabilities: { listDownloaded: true, loadUnload: true, loadProgress: true },
    models,
    embeddings: api.embeddings,
    downloads: models,
    chat: {
      // Only chats with WebP images get a layer of their own: a generator per chat and a step per
      // event otherwise, for nothing.
      stream(request) {
        if (!request.messages.some((m) => hasWebp(m, request.blobs))) return chat.stream(request);
        return (async function* () {
          yield* chat.stream(await convertWebpImages(request));
        })();
      },
    },
    passthrough: api.passthrough,
    async close() {
      await Promise.all([models.close(), api.close()]);
    },
  };
}
