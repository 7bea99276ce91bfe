import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const OTHER = "google/gemma-3-1b";
const chatBody = (model = MODEL) => ({ model_key: model, messages: [{ role: "user", content: "hi" }] });

describe("loads are serialised per model key", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    expect(stack.emu.warnings).toEqual([]);
    await stack.close();
  });
  beforeEach(async () => {
    stack.emu.reset({ loadTimeMs: 200 });
    // The reset unloaded models behind the service's back; the service learns it at its next listing.
    await fetch(`${stack.url}/models`);
  });

  it("ten concurrent /models/load calls make exactly one upstream load and share its instance", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => postJson(`${stack.url}/models/load`, { model_key: MODEL })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(results.map((r) => r.json.identifier))).toEqual(new Set([MODEL]));
    expect(stack.emu.loads).toHaveLength(1);
    expect(stack.emu.loaded().map((m) => m.identifier)).toEqual([MODEL]);
  });

  it("loading an already loaded model returns it without a second instance", async () => {
    stack.emu.preload(MODEL);
    const r = await postJson(`${stack.url}/models/load`, { model_key: MODEL });
    expect(r.json).toMatchObject({ loaded: true, identifier: MODEL, already_loaded: true });
    expect(stack.emu.loads).toHaveLength(0);
  });

  it("ten concurrent chats naming an unloaded model cause one load (AUTO_LOAD)", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => postJson(`${stack.url}/chat`, chatBody())),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(stack.emu.loads).toHaveLength(1);
    expect(stack.emu.loaded()).toHaveLength(1);
  });
});

describe("exclusive loads refuse to unload models that are busy", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it("answers 409 with Retry-After while a chat runs on a model it would unload, then succeeds", async () => {
    stack.emu.reset({ preload: [OTHER], chunkDelayMs: 60, reply: "a b c d e f g h" });
    const running = postJson(`${stack.url}/chat`, chatBody(OTHER));
    await stack.emu.waitFor(() => stack.emu.chats.length === 1);
    const refused = await postJson(`${stack.url}/models/load`, { model_key: MODEL, exclusive: true });
    expect(refused.status).toBe(409);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.json).toMatchObject({ loaded: false, code: "model_busy" });
    expect(refused.json.error).toContain(OTHER);
    expect(stack.emu.loaded().map((m) => m.identifier)).toEqual([OTHER]);
    expect((await running).status).toBe(200);
    const ok = await postJson(`${stack.url}/models/load`, { model_key: MODEL, exclusive: true });
    expect(ok.status).toBe(200);
    expect(ok.json.unloaded).toEqual([OTHER]);
    expect(stack.emu.loaded().map((m) => m.identifier)).toEqual([MODEL]);
  });
});

describe("admission control", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { MAX_CONCURRENT_CHATS: "1", MAX_QUEUED_CHATS: "1", QUEUE_TIMEOUT_MS: "300" },
      emulator: { preload: [MODEL] },
    });
  });
  afterAll(async () => {
    await stack.close();
  });

  it("runs one, queues one, and refuses the third with 429 and Retry-After", async () => {
    stack.emu.configure({ chunkDelayMs: 40, reply: "a b c d e" });
    const first = postJson(`${stack.url}/chat/regular`, chatBody());
    await stack.emu.waitFor(() => stack.emu.chats.length === 1);
    const second = postJson(`${stack.url}/chat/regular`, chatBody());
    await new Promise((r) => setTimeout(r, 30));
    const third = await postJson(`${stack.url}/chat/regular`, chatBody());
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("1");
    expect(third.json.code).toBe("queue_full");
    expect((await first).status).toBe(200);
    const queued = await second;
    expect(queued.status).toBe(200);
    expect(queued.json.queue_ms).toBeGreaterThan(0);
    expect(stack.emu.chats).toHaveLength(2);
  });

  it("a queued chat that waits longer than QUEUE_TIMEOUT_MS gets 429", async () => {
    stack.emu.configure({ chunkDelayMs: 200, reply: "a b c d e" });
    const first = postJson(`${stack.url}/chat/regular`, chatBody());
    await stack.emu.waitFor(() => stack.emu.chats.length === 3);
    const late = await postJson(`${stack.url}/chat/regular`, chatBody());
    expect(late.status).toBe(429);
    expect(late.json.code).toBe("queue_timeout");
    expect((await first).status).toBe(200);
  });
});
