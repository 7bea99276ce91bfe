/** A plain OpenAI-compatible engine (vLLM, llama-server) as an upstream: it lists and chats, nothing more. */
import type { Config } from "../../config.ts";
import { ServiceError } from "../../errors.ts";
import type { LoadedModel, ModelManager, Upstream } from "../types.ts";
import { unrecognised, upstreamTimeout } from "../upstream-errors.ts";
import { createOpenAiCompatibleClients } from "./create-clients.ts";
import { createChatErrorMapper } from "./map-openai-error.ts";
import type { FetchFn } from "./undici-fetch.ts";

const NAME = "the upstream engine";

interface ModelsList {
  data?: Array<{ id?: unknown; max_model_len?: unknown; meta?: { n_ctx_train?: unknown } }>;
}

/** One `/models` entry as a loaded model: such an engine serves what it lists, and says little else. */
function toLoaded(entry: NonNullable<ModelsList["data"]>[number]): LoadedModel | undefined {
  if (typeof entry.id !== "string" || entry.id.length === 0) return undefined;
  // vLLM says `max_model_len`, llama-server `meta.n_ctx_train`; others nothing.
  const ctx = [entry.max_model_len, entry.meta?.n_ctx_train].find((n) => typeof n === "number") as
    | number
    | undefined;
  return {
    identifier: entry.id,
    modelKey: entry.id,
    type: /embed/i.test(entry.id) ? "embedding" : "llm",
    displayName: entry.id,
    vision: false,
    trainedForToolUse: false,
    maxContextLength: ctx ?? 0,
    contextLength: ctx ?? 0,
    sizeBytes: 0,
  };
}

function createModelList(baseUrl: string, apiKey: string, fetch: FetchFn, timeoutMs: number): ModelManager {
  const mapError = createChatErrorMapper({ name: NAME, baseUrl, credentialsHint: "OPENAI_API_KEY" });
  async function listLoaded(): Promise<LoadedModel[]> {
    const signal = AbortSignal.timeout(timeoutMs);
    let body: ModelsList;
    try {
      const res = await fetch(`${baseUrl}/models`, {
        headers: { authorization: `Bearer ${apiKey}` },
        signal,
      });
      const text = await res.text();
      if (res.status !== 200)
        throw unrecognised(NAME, `to list its models (HTTP ${res.status})`, new Error(text));
      body = JSON.parse(text) as ModelsList;
    } catch (error) {
      if (signal.aborted) throw upstreamTimeout(NAME, "listing its models", timeoutMs, error);
      if (error instanceof ServiceError) throw error;
      if (error instanceof SyntaxError) throw unrecognised(NAME, "to list its models (not JSON)", error);
      throw mapError(error, "");
    }
    if (!Array.isArray(body.data)) throw unrecognised(NAME, "to list its models (no data array)");
    return body.data.map(toLoaded).filter((m) => m !== undefined);
  }
  const cannot = () => {
    throw new ServiceError(409, "not_supported", `${NAME} manages its models itself`);
  };
  return {
    async version() {
      await listLoaded();
      return "unknown";
    },
    listLoaded,
    listDownloaded: listLoaded,
    load: cannot,
    unload: cannot,
  };
}

export function createOpenAiCompatibleUpstream(config: Config): Upstream {
  const mapError = createChatErrorMapper({
    name: NAME,
    baseUrl: config.openaiBaseUrl,
    credentialsHint: "OPENAI_API_KEY",
  });
  const api = createOpenAiCompatibleClients(NAME, config, mapError);
  return {
    name: NAME,
    capabilities: { listDownloaded: false, loadUnload: false, loadProgress: false },
    models: createModelList(config.openaiBaseUrl, config.openaiApiKey, api.fetch, config.sdkTimeoutMs),
    chat: api.chat,
    embeddings: api.embeddings,
    passthrough: api.passthrough,
    close: api.close,
  };
}
