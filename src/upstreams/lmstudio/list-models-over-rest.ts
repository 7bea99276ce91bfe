import { ServiceError } from "../../errors.ts";
import type { FetchFn } from "../openai-compatible/undici-fetch.ts";
import type { LoadedModel } from "../types.ts";
import { unrecognised, upstreamTimeout } from "../upstream-errors.ts";
import { LMSTUDIO } from "./map-lmstudio-error.ts";

interface RestModel {
  id?: unknown;
  type?: unknown;
  state?: unknown;
  max_context_length?: unknown;
  loaded_context_length?: unknown;
  capabilities?: unknown;
}

/** One `/api/v0/models` entry (LM Studio's REST API, 0.3.6+) as a loaded model, when it is loaded. */
export function restModelToLoaded(m: RestModel): LoadedModel | undefined {
  if (m.state !== "loaded" || typeof m.id !== "string") return undefined;
  const max = typeof m.max_context_length === "number" ? m.max_context_length : 0;
  return {
    identifier: m.id,
    modelKey: m.id,
    type: m.type === "embeddings" ? "embedding" : "llm",
    displayName: m.id,
    vision: m.type === "vlm",
    trainedForToolUse: Array.isArray(m.capabilities) && m.capabilities.includes("tool_use"),
    maxContextLength: max,
    contextLength: typeof m.loaded_context_length === "number" ? m.loaded_context_length : max,
    sizeBytes: 0,
  };
}

/** The loaded models, over HTTP: what still works when the SDK and LM Studio disagree. */
export function createRestModelList(origin: string, apiKey: string, fetch: FetchFn, timeoutMs: number) {
  return async (): Promise<LoadedModel[]> => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await fetch(`${origin}/api/v0/models`, {
        headers: { authorization: `Bearer ${apiKey}` },
        signal,
      });
      const text = await res.text();
      if (res.status !== 200)
        throw unrecognised(LMSTUDIO, `to list models over REST (HTTP ${res.status})`, new Error(text));
      const body = JSON.parse(text) as { data?: RestModel[] };
      return (body.data ?? []).map(restModelToLoaded).filter((m) => m !== undefined);
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      if (signal.aborted) throw upstreamTimeout(LMSTUDIO, "listing models over REST", timeoutMs, error);
      throw unrecognised(LMSTUDIO, "to list models over REST", error);
    }
  };
}
