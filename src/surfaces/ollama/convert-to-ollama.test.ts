import { describe, expect, it } from "vitest";
import type { LoadedModel } from "../../upstreams/types.ts";
import {
  capabilities,
  doneReason,
  finalCounters,
  NEVER,
  toOllamaToolCalls,
  toPsEntry,
  toShow,
  toTagsEntry,
} from "./convert-to-ollama.ts";

const qwen: LoadedModel = {
  modelKey: "qwen/qwen3-4b-2507",
  identifier: "qwen/qwen3-4b-2507",
  type: "llm",
  displayName: "Qwen3 4B",
  vision: false,
  trainedForToolUse: true,
  maxContextLength: 262_144,
  contextLength: 4_096,
  sizeBytes: 2_500_000_000,
  format: "gguf",
  architecture: "qwen3",
  paramsString: "4B",
  quantization: "Q4_K_M",
  ttlMs: 60_000,
  lastUsedTime: 1_000_000,
};

describe("model entries", () => {
  it("tags: LM Studio's facts in Ollama's details", () => {
    expect(toTagsEntry(qwen)).toMatchObject({
      name: "qwen/qwen3-4b-2507",
      model: "qwen/qwen3-4b-2507",
      size: 2_500_000_000,
      details: {
        format: "gguf",
        family: "qwen3",
        families: ["qwen3"],
        parameter_size: "4B",
        quantization_level: "Q4_K_M",
      },
    });
    expect(toTagsEntry(qwen).digest).toBe(toTagsEntry({ ...qwen }).digest);
    expect(toTagsEntry(qwen).digest).not.toBe(toTagsEntry({ ...qwen, sizeBytes: 1 }).digest);
  });

  it("ps: expires_at is the last use plus the TTL; no TTL is far away", () => {
    expect(toPsEntry(qwen).expires_at).toBe(new Date(1_060_000).toISOString());
    expect(toPsEntry({ ...qwen, ttlMs: null }).expires_at).toBe(NEVER);
    expect(toPsEntry({ ...qwen, lastUsedTime: null }, 5_000).expires_at).toBe(new Date(65_000).toISOString());
  });

  it("show: capabilities and the context length under the architecture", () => {
    const s = toShow(qwen);
    expect(s.capabilities).toEqual(["completion", "tools"]);
    expect(s.model_info["qwen3.context_length"]).toBe(262_144);
    expect(capabilities({ ...qwen, type: "embedding" })).toEqual(["embedding"]);
    expect(capabilities({ ...qwen, vision: true, trainedForToolUse: false })).toEqual([
      "completion",
      "vision",
    ]);
  });
});

describe("answers", () => {
  it("counters are nanoseconds", () => {
    const c = finalCounters(
      {
        type: "end",
        model: "m",
        finishReason: "tool_calls",
        usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7 },
        timings: { upstreamMs: 0, loadMs: 1.5, timeToFirstTokenMs: 2, generationMs: 3 },
      },
      10,
      0,
    );
    expect(c).toEqual({
      done_reason: "stop",
      total_duration: 10_000_000,
      load_duration: 1_500_000,
      prompt_eval_count: 3,
      prompt_eval_duration: 2_000_000,
      eval_count: 4,
      eval_duration: 3_000_000,
    });
    expect(doneReason("length")).toBe("length");
  });

  it("tool call arguments become objects; text that is not JSON is an error", () => {
    expect(toOllamaToolCalls([{ id: "1", name: "f", arguments: '{"a":1}' }])).toEqual([
      { id: "1", function: { index: 0, name: "f", arguments: { a: 1 } } },
    ]);
    expect(toOllamaToolCalls([{ id: "1", name: "f", arguments: "" }])[0]?.function.arguments).toEqual({});
    expect(() => toOllamaToolCalls([{ id: "1", name: "f", arguments: "{oops" }])).toThrow(/not JSON/);
  });
});
