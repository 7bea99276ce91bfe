import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    emulator: { preload: [MODEL], firstChunkDelayMs: 60, chunkDelayMs: 10, reply: "a b c d e" },
  });
});
afterAll(async () => {
  await stack.close();
});

const body = { messages: [{ role: "user", content: "four words of prompt" }] };

interface Timed {
  predicted_tokens: number;
  prompt_tokens: number;
  total_tokens: number;
  time_to_first_token_ms: number;
  generation_ms: number;
  tokens_per_second: number;
}

function checkTimings(t: Timed) {
  expect(t.predicted_tokens).toBe(5);
  expect(t.prompt_tokens).toBeGreaterThan(0);
  expect(t.total_tokens).toBe(t.prompt_tokens + t.predicted_tokens);
  expect(t.time_to_first_token_ms).toBeGreaterThanOrEqual(50);
  expect(t.generation_ms).toBeGreaterThanOrEqual(30);
  expect(t.tokens_per_second).toBeCloseTo(t.predicted_tokens / (t.generation_ms / 1000), 0);
}

describe("usage and timings", () => {
  it("non-streaming responses carry usage and timings that add up", async () => {
    const r = await postJson(`${stack.url}/chat/regular`, body);
    checkTimings(r.json);
    const total = r.json.time_to_first_token_ms + r.json.generation_ms;
    expect(total).toBeLessThan(2_000);
    expect(r.json).not.toHaveProperty("load_ms");
  });

  it("the done line carries the same fields", async () => {
    const r = await postNdjson(`${stack.url}/chat/regular/stream`, body);
    checkTimings(r.lines.at(-1));
  });

  it("every response carries Server-Timing with the service's own overhead", async () => {
    const chat = await postJson(`${stack.url}/chat/regular`, body);
    const header = chat.headers.get("server-timing") ?? "";
    const overhead = Number(/overhead;dur=([\d.]+)/.exec(header)?.[1]);
    const upstream = Number(/upstream;dur=([\d.]+)/.exec(header)?.[1]);
    expect(overhead).toBeGreaterThanOrEqual(0);
    expect(overhead).toBeLessThan(upstream);
    expect(upstream).toBeGreaterThanOrEqual(chat.json.time_to_first_token_ms);
    const stream = await fetch(`${stack.url}/chat/regular/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(stream.headers.get("server-timing")).toMatch(/^overhead;dur=[\d.]+/);
    await stream.text();
    for (const path of ["/health", "/models", "/nope"]) {
      expect((await fetch(`${stack.url}${path}`)).headers.get("server-timing"), path).toMatch(
        /^overhead;dur=[\d.]+$/,
      );
    }
    const invalid = await postJson(`${stack.url}/chat`, { messages: [] });
    expect(invalid.status).toBe(422);
    expect(invalid.headers.get("server-timing")).toMatch(/^overhead;dur=/);
  });
});
