/**
 * UPSTREAM_KIND=openai: the service in front of a plain OpenAI-compatible engine (the emulator's
 * HTTP API stands in for vLLM or llama-server). Such an engine serves what GET /models lists,
 * chats, and loads or unloads nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";
import { expectNoLeak, getJson, type Json } from "./helpers.ts";

const SERVED = "qwen/qwen3-4b-2507";
/** In the emulator's catalogue (LM Studio could load it), but the engine does not serve it. */
const NOT_SERVED = "google/gemma-3-1b";

let stack: Stack;
/** Websocket connections (the SDK's transport) seen before each reset. */
let wsConnections = 0;

beforeAll(async () => {
  // A plain engine serves a fixed set of models: no JIT behind it.
  stack = await startStack({ env: { UPSTREAM_KIND: "openai" }, emulator: { preload: [SERVED], jit: false } });
});
beforeEach(() => {
  wsConnections += stack.emu.wsConnections;
  stack.emu.reset({ preload: [SERVED], jit: false });
});
afterAll(async () => {
  await stack.close();
});

describe("UPSTREAM_KIND=openai", () => {
  it("GET /models lists what the engine serves", async () => {
    const r = await getJson(`${stack.url}/models`);
    expect(r.status).toBe(200);
    expect(r.json.models.map((m: Json) => m.identifier)).toEqual([SERVED]);
    expect(r.json.models[0]).toMatchObject({ identifier: SERVED, model_key: SERVED, type: "llm" });
  });

  it("POST /chat with a served model answers through the engine", async () => {
    const r = await postJson(`${stack.url}/chat`, {
      model_key: SERVED,
      messages: [{ role: "user", content: "What is 2+2?" }],
    });
    expect(r.status).toBe(200);
    expect(r.json.model).toBe(SERVED);
    expect(r.json.content).toBe(`Hello from ${SERVED}! You said: What is 2+2?`);
    expect(stack.emu.chats).toHaveLength(1);
    expect(stack.emu.chats[0]).toMatchObject({ model: SERVED, outcome: "finished" });
    expect(stack.emu.chats[0]?.body.model).toBe(SERVED);
  });

  it("a chat naming the served model in another case reaches the engine under the listed id", async () => {
    const r = await postJson(`${stack.url}/chat`, {
      model_key: "Qwen/Qwen3-4B-2507",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(r.status).toBe(200);
    expect(stack.emu.chats.map((c) => c.body.model)).toEqual([SERVED]);
  });

  it("a chat for a model the engine does not serve is 404, and never reaches it", async () => {
    const r = await postJson(`${stack.url}/chat`, {
      model_key: NOT_SERVED,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(r.status).toBe(404);
    expect(r.json.code).toBe("model_not_found");
    expect(r.json.detail).toContain(NOT_SERVED);
    expect(stack.emu.chats).toEqual([]);
    expectNoLeak(r.text);
  });

  it("POST /models/load of a served model answers 200 already_loaded:true, loading nothing", async () => {
    const r = await postJson(`${stack.url}/models/load`, { model_key: SERVED });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      loaded: true,
      model_key: SERVED,
      identifier: SERVED,
      unloaded: [],
      already_loaded: true,
    });
    expect(stack.emu.loads).toEqual([]);
  });

  it("POST /models/load of a model the engine does not serve is 404", async () => {
    const r = await postJson(`${stack.url}/models/load`, { model_key: NOT_SERVED });
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ loaded: false, code: "model_not_found" });
    expect(r.json.error).toMatch(/^Failed to load model: .*google\/gemma-3-1b/);
    expect(stack.emu.loads).toEqual([]);
    expect(stack.emu.loaded().map((m) => m.identifier)).toEqual([SERVED]);
    expectNoLeak(r.text);
  });

  it("POST /models/unload is 409: the engine manages its models itself", async () => {
    for (const body of [{ model_key: SERVED }, { unload_all: true }]) {
      const r = await postJson(`${stack.url}/models/unload`, body);
      expect(r.status).toBe(409);
      expect(r.json.code).toBe("not_supported");
      expect(r.json.detail).toMatch(/manages its models itself/);
      expectNoLeak(r.text);
    }
    expect(stack.emu.unloads).toEqual([]);
    expect(stack.emu.loaded().map((m) => m.identifier)).toEqual([SERVED]);
  });

  it("/health is ok while the engine answers", async () => {
    const r = await getJson(`${stack.url}/health`);
    expect(r.status).toBe(200);
    expect(r.json.status).toBe("ok");
    expect(r.json.lmstudio.reachable).toBe(true);
  });
});

describe("emulator", () => {
  it("saw no LM Studio SDK websocket: the openai upstream speaks HTTP only", () => {
    expect(wsConnections + stack.emu.wsConnections).toBe(0);
    expect(stack.emu.warnings).toEqual([]);
  });
});
