import { createHash } from "node:crypto";
import type { ChatOutput } from "../../core/chat/chat-service.ts";
import { ServiceError } from "../../errors.ts";
import type { ChatToolCall, DownloadedModel, LoadedModel } from "../../upstreams/types.ts";
import type { OllamaToolCall } from "./schemas.ts";

type End = Extract<ChatOutput, { type: "end" }>;

/** Ollama's durations are nanoseconds. */
export const nanos = (ms: number | undefined) => Math.round((ms ?? 0) * 1e6);

/** LM Studio's finish reasons in Ollama's words ("tool_calls" is a "stop" there). */
export function doneReason(finishReason: string): string {
  return finishReason === "length" ? "length" : "stop";
}

/** The counters of a final line. `elapsedMs` is the whole request, as Ollama's total_duration is. */
export function finalCounters(end: End, elapsedMs: number, pieces: number) {
  const t = end.timings;
  return {
    done_reason: doneReason(end.finishReason),
    total_duration: nanos(elapsedMs),
    load_duration: nanos(t.loadMs),
    prompt_eval_count: end.usage?.promptTokens ?? 0,
    prompt_eval_duration: nanos(t.timeToFirstTokenMs),
    eval_count: end.usage?.completionTokens ?? pieces,
    eval_duration: nanos(t.generationMs),
  };
}

/** Tool calls in Ollama's shape: arguments are an object, not OpenAI's JSON text. */
export function toOllamaToolCalls(calls: ChatToolCall[]): OllamaToolCall[] {
  return calls.map((c, index) => {
    let args: unknown;
    try {
      args = c.arguments.trim() === "" ? {} : JSON.parse(c.arguments);
    } catch (error) {
      throw new ServiceError(
        502,
        "upstream_error",
        `The model called "${c.name}" with arguments that are not JSON; retry`,
        { cause: error },
      );
    }
    const argsObject =
      typeof args === "object" && args !== null && !Array.isArray(args)
        ? (args as Record<string, unknown>)
        : { value: args };
    return { id: c.id, function: { index, name: c.name, arguments: argsObject } };
  });
}

/** A stable stand-in for Ollama's manifest digest: LM Studio has none; this changes when the file does. */
export function digestOf(m: DownloadedModel): string {
  return createHash("sha256")
    .update(`${m.modelKey}\u0000${m.path ?? ""}\u0000${m.sizeBytes}`)
    .digest("hex");
}

/** LM Studio does not say when a file was downloaded: the Unix epoch stands for "unknown". */
export const UNKNOWN_TIME = new Date(0).toISOString();

export function details(m: DownloadedModel) {
  const family = m.architecture ?? "";
  return {
    parent_model: "",
    format: m.format ?? "gguf",
    family,
    families: family ? [family] : null,
    parameter_size: m.paramsString ?? "",
    quantization_level: m.quantization ?? "",
  };
}

/** One /api/tags entry; `name` is what clients send back (the LM Studio key, or an alias). */
export function toTagsEntry(m: DownloadedModel, name = m.modelKey) {
  return {
    name,
    model: name,
    modified_at: UNKNOWN_TIME,
    size: m.sizeBytes,
    digest: digestOf(m),
    details: details(m),
  };
}

/** What /api/ps says of a model that never expires (no TTL): far in the future, as Ollama does. */
export const NEVER = "2318-01-01T00:00:00.000Z";

/** One /api/ps entry: expires_at from the instance's TTL, counted from its last use. */
export function toPsEntry(m: LoadedModel, now = Date.now()) {
  const expires =
    m.ttlMs === null || m.ttlMs === undefined
      ? NEVER
      : new Date((m.lastUsedTime ?? now) + m.ttlMs).toISOString();
  return {
    ...toTagsEntry(m, m.identifier),
    expires_at: expires,
    // LM Studio does not say how much of it is on the GPU: all of it, as far as we know.
    size_vram: m.sizeBytes,
    context_length: m.contextLength,
  };
}

export function capabilities(m: DownloadedModel): string[] {
  if (m.type === "embedding") return ["embedding"];
  return ["completion", ...(m.vision ? ["vision"] : []), ...(m.trainedForToolUse ? ["tools"] : [])];
}

/** /api/show: what LM Studio knows. No Modelfile, template or license: LM Studio keeps those to itself. */
export function toShow(m: DownloadedModel) {
  const arch = m.architecture ?? (m.type === "embedding" ? "bert" : "llama");
  return {
    license: "",
    modelfile: "",
    parameters: "",
    template: "",
    details: details(m),
    model_info: {
      "general.architecture": arch,
      "general.basename": m.displayName,
      ...(m.paramsString && { "general.size_label": m.paramsString }),
      [`${arch}.context_length`]: m.maxContextLength,
    } as Record<string, string | number>,
    capabilities: capabilities(m),
    modified_at: UNKNOWN_TIME,
  };
}
