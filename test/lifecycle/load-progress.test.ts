import { request } from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectNoLeak, expectNoWarnings } from "../api/helpers.ts";
import { postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});
beforeEach(() => stack.emu.reset({ loadTimeMs: 300, loadSteps: 30 }));

describe("POST /models/load/stream", () => {
  it("streams monotonic progress lines, throttled, then one loaded line", async () => {
    const r = await postNdjson(`${stack.url}/models/load/stream`, { model_key: MODEL, context_length: 8192 });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const progress = r.lines.filter((l) => l.type === "progress").map((l) => l.progress);
    // 30 upstream steps over 300 ms, throttled to one per 100 ms plus the first and the last.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(6);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.at(-1)).toBe(1);
    expect(r.lines.at(-1)).toEqual({
      type: "loaded",
      loaded: true,
      model_key: MODEL,
      identifier: MODEL,
      unloaded: [],
      already_loaded: false,
      context_length: 8192,
    });
    expect(r.lines.findIndex((l) => l.type === "loaded")).toBe(r.lines.length - 1);
  });

  it("ends with an error line when the load fails after progress was streamed", async () => {
    stack.emu.failNextLoad({ message: "Out of memory", atProgress: 0.5 });
    const r = await postNdjson(`${stack.url}/models/load/stream`, { model_key: MODEL });
    expect(r.status).toBe(200);
    expect(r.lines[0].type).toBe("progress");
    expect(r.lines.at(-1)).toEqual({
      type: "error",
      error: {
        code: "insufficient_memory",
        message: expect.stringMatching(/^Failed to load model: .*ran out of memory/),
        request_id: r.headers.get("x-request-id"),
      },
    });
    expectNoLeak(r.text);
  });

  it("answers a failure known up front with its status code, as /models/load does", async () => {
    const r = await postNdjson(`${stack.url}/models/load/stream`, { model_key: "qwen/qwen3-4b" });
    expect(r.status).toBe(404);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({ loaded: false, code: "model_not_found" });
    expect(r.lines[0].suggestions).toContain("qwen/qwen3-4b-2507");
    expectNoLeak(r.text);
  });

  it("a client that disconnects cancels the load", async () => {
    stack.emu.reset({ loadTimeMs: 3_000, loadSteps: 30 });
    await new Promise<void>((resolve) => {
      const req = request(new URL("/models/load/stream", stack.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
      });
      req.on("response", (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", () => {});
      req.end(JSON.stringify({ model_key: MODEL }));
    });
    await stack.emu.waitFor(() => stack.emu.loads.at(-1)?.outcome === "cancelled", 1_000);
    expect(stack.emu.loaded()).toEqual([]);
  });
});

describe("GET /models/available", () => {
  it("lists downloaded models with their capabilities and loaded identifiers", async () => {
    stack.emu.preload(MODEL, { identifier: "my-qwen" });
    const r = await fetch(`${stack.url}/models/available`);
    expect(r.status).toBe(200);
    const { models } = await r.json();
    const qwen = models.find((m: { model_key: string }) => m.model_key === MODEL);
    expect(qwen).toMatchObject({
      type: "llm",
      trained_for_tool_use: true,
      vision: false,
      max_context_length: 262144,
      loaded: true,
      loaded_identifiers: ["my-qwen"],
    });
    expect(qwen.size_bytes).toBeGreaterThan(0);
    const vl = models.find((m: { model_key: string }) => m.model_key === "qwen3-vl-4b-instruct");
    expect(vl).toMatchObject({ vision: true, loaded: false, loaded_identifiers: [] });
    expect(models.some((m: { type: string }) => m.type === "embedding")).toBe(true);
  });
});

describe("ttl", () => {
  it("/models/load passes ttl (seconds) to LM Studio as ttlMs", async () => {
    const r = await postJson(`${stack.url}/models/load`, { model_key: MODEL, ttl: 120 });
    expect(r.status).toBe(200);
    expect(stack.emu.loads.at(-1)?.ttlMs).toBe(120_000);
  });
});
