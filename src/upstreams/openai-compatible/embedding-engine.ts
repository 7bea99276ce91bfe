import OpenAI, { APIUserAbortError } from "openai";
import { ServiceError } from "../../errors.ts";
import type { EmbeddingEngine, EmbeddingRequest, EmbeddingResult } from "../types.ts";
import { upstreamTimeout } from "../upstream-errors.ts";
import type { ChatErrorMapper } from "./map-openai-error.ts";
import type { FetchFn } from "./undici-fetch.ts";

export interface EmbeddingEngineOptions {
  name: string;
  baseURL: string;
  apiKey: string;
  fetch: FetchFn;
  /** The whole answer's budget: embeddings come in one piece, like a chat's first token. */
  timeoutMs: number;
  mapError: ChatErrorMapper;
}

/** Embeddings over an OpenAI-compatible `/embeddings` endpoint (LM Studio's, vLLM's) with the official client. */
export function createEmbeddingEngine(opts: EmbeddingEngineOptions): EmbeddingEngine {
  const client = new OpenAI({
    baseURL: opts.baseURL,
    apiKey: opts.apiKey,
    fetch: opts.fetch,
    maxRetries: 0,
    timeout: opts.timeoutMs,
  });

  return {
    async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
      if (request.signal.aborted) throw new ServiceError(499, "cancelled", "The request was cancelled");
      const controller = new AbortController();
      let timedOut = false;
      const onAbort = () => controller.abort(request.signal.reason);
      request.signal.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, opts.timeoutMs);
      try {
        const r = await client.embeddings.create(
          // Floats, not base64: the client would otherwise ask for base64 and decode it itself.
          { model: request.model, input: request.input, encoding_format: "float" },
          { signal: controller.signal },
        );
        const data = [...r.data].sort((a, b) => a.index - b.index);
        return {
          model: r.model || request.model,
          embeddings: data.map((d) => d.embedding),
          promptTokens: r.usage?.prompt_tokens || undefined,
        };
      } catch (error) {
        if (timedOut) throw upstreamTimeout(opts.name, "the embeddings", opts.timeoutMs, error);
        if (controller.signal.aborted) throw opts.mapError(new APIUserAbortError(), request.model);
        throw opts.mapError(error, request.model);
      } finally {
        clearTimeout(timer);
        request.signal.removeEventListener("abort", onAbort);
      }
    },
  };
}
