import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectNoWarnings } from "../api/helpers.ts";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const OTHER = "google/gemma-3-1b";
const chatBody = (model = MODEL) => ({ model_key: model, messages: [{ role: "user", content: "hi" }] });

describe("loads are serialised per model key", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterEach(() => expectNoWarnings(stack.emu));
  afterAll(async () => {
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
  afterEach(() => expectNoWarnings(stack.emu));
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
      env: { MAX_CONCURRENT_CHATS: "1", MAX_QUEUED_CHATS: "1", QUEUE_TIMEOUT_MS: "600" },
    });
  });
  beforeEach(() => stack.emu.reset({ preload: [MODEL] }));
  afterEach(() => expectNoWarnings(stack.emu));
  afterAll(async () => {
    await stack.close();
  });

  it("runs one, queues one, and refuses the third with 429 and Retry-After", async () => {
    // The first chat holds the only slot for about 0.3 s.
    stack.emu.configure({ chunkDelayMs: 60, reply: "a b c d e" });
    const first = postJson(`${stack.url}/chat/regular`, chatBody());
    await stack.emu.waitFor(() => stack.emu.chats.length === 1);
    // Two more arrive while it runs: whichever the service sees first takes the one queue place,
    // the other is refused at once. Neither reaches LM Studio before the first chat ends.
    const [second, third] = await Promise.all([
      postJson(`${stack.url}/chat/regular`, chatBody()),
      postJson(`${stack.url}/chat/regular`, chatBody()),
    ]);
    const refused = [second, third].filter((r) => r.status === 429);
    const queued = [second, third].filter((r) => r.status !== 429);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.headers.get("retry-after")).toBe("1");
    expect(refused[0]?.json.code).toBe("queue_full");
    expect(queued[0]?.status).toBe(200);
    expect(queued[0]?.json.queue_ms).toBeGreaterThan(0);
    expect((await first).status).toBe(200);
    expect(stack.emu.chats).toHaveLength(2);
    expect(stack.emu.chats.map((c) => c.outcome)).toEqual(["finished", "finished"]);
    // The queued chat started upstream only once the first had ended.
    expect(stack.emu.chats[1]?.startedAt).toBeGreaterThanOrEqual(stack.emu.chats[0]?.endedAt ?? Infinity);
  });

  it("a queued chat that waits longer than QUEUE_TIMEOUT_MS gets 429", async () => {
    // The first chat holds the only slot for about 1 s, longer than the queue timeout.
    stack.emu.configure({ chunkDelayMs: 200, reply: "a b c d e" });
    const first = postJson(`${stack.url}/chat/regular`, chatBody());
    await stack.emu.waitFor(() => stack.emu.chats.length === 1);
    const started = performance.now();
    const late = await postJson(`${stack.url}/chat/regular`, chatBody());
    expect(late.status).toBe(429);
    expect(late.json.code).toBe("queue_timeout");
    expect(late.headers.get("retry-after")).toBe("1");
    expect(performance.now() - started).toBeGreaterThanOrEqual(550);
    expect(stack.emu.chats).toHaveLength(1);
    expect((await first).status).toBe(200);
  });
});
