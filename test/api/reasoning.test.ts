/** Reasoning models (gpt-oss: delta.reasoning; others: delta.reasoning_content) on the reference API. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const hi = { model_key: MODEL, messages: [{ role: "user", content: "What is 2+2?" }] };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { FIRST_TOKEN_TIMEOUT_MS: "400", CHUNK_TIMEOUT_MS: "400" } });
});
afterAll(async () => {
  await stack.close();
});

describe.each(["reasoning_content", "reasoning"] as const)("a model that streams delta.%s", (field) => {
  it("NDJSON: reasoning lines first, then the reference's fragment and done lines, unchanged", async () => {
    stack.emu.reset({ preload: [MODEL], reasoning: { text: "Two and two make four.", field }, reply: "4" });
    const r = await postNdjson(`${stack.url}/chat/stream`, hi);
    expect(r.status).toBe(200);
    const types = r.lines.map((l) => l.type);
    expect(types.indexOf("fragment")).toBeGreaterThan(types.lastIndexOf("reasoning"));
    expect(
      r.lines
        .filter((l) => l.type === "reasoning")
        .map((l) => l.content)
        .join(""),
    ).toBe("Two and two make four.");
    expect(
      r.lines
        .filter((l) => l.type === "fragment")
        .map((l) => l.content)
        .join(""),
    ).toBe("4");
    expect(r.lines.at(-1)).toMatchObject({ type: "done", model: MODEL, stop_reason: "stop" });
    expect(Object.keys(r.lines.at(-1))).not.toContain("reasoning");
  });

  it("JSON: a reasoning field beside the reference's content", async () => {
    stack.emu.reset({ preload: [MODEL], reasoning: { text: "Two and two make four.", field }, reply: "4" });
    const r = await postJson(`${stack.url}/chat`, hi);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ content: "4", reasoning: "Two and two make four." });
  });
});

describe("reasoning counts as activity for the timeouts", () => {
  it("a model that thinks longer than FIRST_TOKEN_TIMEOUT_MS before its first content token is not cut off", async () => {
    // Eight reasoning chunks 100 ms apart: 800 ms before any content, twice the 400 ms budgets.
    stack.emu.reset({
      preload: [MODEL],
      reasoning: { text: "a b c d e f g h" },
      reply: "done",
      chunkDelayMs: 100,
    });
    const r = await postJson(`${stack.url}/chat`, hi);
    expect(r.status).toBe(200);
    expect(r.json.content).toBe("done");
  });

  it("answers without reasoning have no reasoning field", async () => {
    stack.emu.reset({ preload: [MODEL], reply: "4" });
    const r = await postJson(`${stack.url}/chat`, hi);
    expect(r.json).not.toHaveProperty("reasoning");
  });
});
