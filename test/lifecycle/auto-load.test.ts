import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, expectNoWarnings } from "../api/helpers.ts";
import { postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const OTHER = "google/gemma-3-1b";
const chat = (model_key?: string) => ({
  ...(model_key && { model_key }),
  messages: [{ role: "user", content: "hi" }],
});

describe("on-demand loading (AUTO_LOAD=true, the default)", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { MODEL_TTL_SECONDS: "900" } });
  });
  afterEach(() => expectNoWarnings(stack.emu));
  afterAll(async () => {
    await stack.close();
  });

  it("one stream carries load progress, then tokens, then done", async () => {
    stack.emu.reset({ loadTimeMs: 250, loadSteps: 10, reply: "one two three" });
    const r = await postNdjson(`${stack.url}/chat/stream`, chat(MODEL));
    const types = r.lines.map((l) => l.type);
    const firstFragment = types.indexOf("fragment");
    expect(types.slice(0, firstFragment).every((t) => t === "progress")).toBe(true);
    expect(firstFragment).toBeGreaterThanOrEqual(2);
    const progress = r.lines.filter((l) => l.type === "progress");
    expect(progress.every((l) => l.stage === "load")).toBe(true);
    expect(progress.map((l) => l.progress)).toEqual(progress.map((l) => l.progress).sort((a, b) => a - b));
    expect(progress.at(-1)?.progress).toBe(1);
    expect(types.at(-1)).toBe("done");
    expect(r.lines.at(-1).load_ms).toBeGreaterThanOrEqual(200);
    expect(stack.emu.loads).toHaveLength(1);
  });

  it("models it loads on demand get MODEL_TTL_SECONDS as their idle TTL", async () => {
    stack.emu.reset({ loadTimeMs: 20 });
    expect((await postJson(`${stack.url}/chat`, chat(MODEL))).status).toBe(200);
    expect(stack.emu.loads).toHaveLength(1);
    expect(stack.emu.loads[0]?.ttlMs).toBe(900_000);
  });

  it("a non-streaming chat simply waits for the load", async () => {
    stack.emu.reset({ loadTimeMs: 150 });
    const r = await postJson(`${stack.url}/chat`, chat(OTHER));
    expect(r.status).toBe(200);
    expect(r.json.model).toBe(OTHER);
    expect(r.json.load_ms).toBeGreaterThanOrEqual(100);
  });

  it("a model unloaded behind our back (TTL) is loaded again on the next chat", async () => {
    stack.emu.reset({ loadTimeMs: 20 });
    expect((await postJson(`${stack.url}/chat`, chat(MODEL))).status).toBe(200);
    stack.emu.unloadAll();
    const r = await postJson(`${stack.url}/chat`, chat(MODEL));
    expect(r.status).toBe(200);
    expect(stack.emu.loads).toHaveLength(2);
  });

  it("a model that is not downloaded: 404 with close matches", async () => {
    stack.emu.reset();
    const r = await postJson(`${stack.url}/chat`, chat("gemma-3-1b"));
    expect(r.status).toBe(404);
    expect(r.json.code).toBe("model_not_found");
    expect(r.json.suggestions).toContain(OTHER);
    expect(r.json.detail).toContain(`did you mean "${OTHER}"`);
    expectNoLeak(r.text);
    expect(stack.emu.chats).toHaveLength(0);
  });
});

describe("AUTO_LOAD_EXCLUSIVE=true", () => {
  it("an on-demand load unloads the other models first", async () => {
    const stack = await startStack({ env: { AUTO_LOAD_EXCLUSIVE: "true" }, emulator: { preload: [OTHER] } });
    try {
      const r = await postJson(`${stack.url}/chat`, chat(MODEL));
      expect(r.status).toBe(200);
      expect(stack.emu.unloads).toEqual([OTHER]);
      expect(stack.emu.loaded().map((m) => m.identifier)).toEqual([MODEL]);
    } finally {
      await stack.close();
    }
  });
});

describe("AUTO_LOAD=false", () => {
  it("keeps the reference's errors: nothing loaded, or the named model not loaded", async () => {
    // LM Studio with JIT off: otherwise LM Studio itself loads what the service does not.
    const stack = await startStack({ env: { AUTO_LOAD: "false" }, emulator: { jit: false } });
    try {
      const none = await postJson(`${stack.url}/chat`, chat());
      expect(none.status).toBe(503);
      expect(none.json.detail).toBe("Chat service unavailable: No model loaded");
      stack.emu.preload(OTHER);
      const named = await postJson(`${stack.url}/chat`, chat(MODEL));
      expect(named.status).toBe(503);
      expect(named.json.detail).toContain(`"${MODEL}"`);
      expect(stack.emu.loads).toHaveLength(0);
    } finally {
      await stack.close();
    }
  });
});
