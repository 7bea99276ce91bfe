import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";
import { expectNoLeak, expectNoWarnings, expectValidation, getJson, type Json } from "./helpers.ts";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
beforeEach(() => {
  stack.emu.reset();
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});

const load = (body: unknown) => postJson(`${stack.url}/models/load`, body);
const unload = (body: unknown) => postJson(`${stack.url}/models/unload`, body);
const identifiers = () => stack.emu.loaded().map((m) => m.identifier);

describe("GET /models", () => {
  it("lists nothing when nothing is loaded", async () => {
    const r = await getJson(`${stack.url}/models`);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ models: [] });
  });

  it("lists loaded LLMs and embedding models with every field", async () => {
    stack.emu.preload("qwen/qwen3-4b-2507");
    stack.emu.preload("qwen3-vl-4b-instruct", { identifier: "vlm", contextLength: 8192 });
    stack.emu.preload("text-embedding-nomic-embed-text-v1.5");
    const r = await getJson(`${stack.url}/models`);
    expect(r.status).toBe(200);
    const byId = new Map<string, Json>(r.json.models.map((m: Json) => [m.identifier, m]));
    expect([...byId.keys()].sort()).toEqual([
      "qwen/qwen3-4b-2507",
      "text-embedding-nomic-embed-text-v1.5",
      "vlm",
    ]);
    expect(byId.get("qwen/qwen3-4b-2507")).toEqual({
      identifier: "qwen/qwen3-4b-2507",
      model_key: "qwen/qwen3-4b-2507",
      type: "llm",
      display_name: "Qwen3 4B Instruct 2507",
      vision: false,
      trained_for_tool_use: true,
      context_length: 4096,
      max_context_length: 262144,
      size_bytes: 2_497_280_000,
    });
    expect(byId.get("vlm")).toEqual({
      identifier: "vlm",
      model_key: "qwen3-vl-4b-instruct",
      type: "llm",
      display_name: "Qwen3 VL 4B Instruct",
      vision: true,
      trained_for_tool_use: true,
      context_length: 8192,
      max_context_length: 262144,
      size_bytes: 3_330_000_000,
    });
    expect(byId.get("text-embedding-nomic-embed-text-v1.5")).toEqual({
      identifier: "text-embedding-nomic-embed-text-v1.5",
      model_key: "text-embedding-nomic-embed-text-v1.5",
      type: "embedding",
      display_name: "Nomic Embed Text v1.5",
      vision: false,
      trained_for_tool_use: false,
      context_length: 2048,
      max_context_length: 2048,
      size_bytes: 84_106_624,
    });
  });
});

describe("POST /models/load", () => {
  it("loads a model and answers the reference's success shape", async () => {
    const r = await load({ model_key: "qwen/qwen3-4b-2507" });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      loaded: true,
      model_key: "qwen/qwen3-4b-2507",
      identifier: "qwen/qwen3-4b-2507",
      unloaded: [],
    });
    expect(identifiers()).toEqual(["qwen/qwen3-4b-2507"]);
    expect(stack.emu.loads).toHaveLength(1);
    expect(stack.emu.loads[0]).toMatchObject({ modelKey: "qwen/qwen3-4b-2507", outcome: "loaded" });
  });

  it("loads an embedding model", async () => {
    const r = await load({ model_key: "text-embedding-nomic-embed-text-v1.5" });
    expect(r.status).toBe(200);
    expect(r.json.loaded).toBe(true);
    expect(stack.emu.loaded()).toEqual([expect.objectContaining({ type: "embedding" })]);
  });

  it("returns the model already loaded instead of loading a second instance", async () => {
    stack.emu.preload("qwen/qwen3-4b-2507");
    const r = await load({ model_key: "qwen/qwen3-4b-2507" });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ loaded: true, identifier: "qwen/qwen3-4b-2507", unloaded: [] });
    expect(stack.emu.loads).toEqual([]);
    expect(identifiers()).toEqual(["qwen/qwen3-4b-2507"]);

    // Twice more, concurrently: still one instance, no "key:2".
    const both = await Promise.all([
      load({ model_key: "google/gemma-3-1b" }),
      load({ model_key: "google/gemma-3-1b" }),
    ]);
    expect(both.map((b) => b.status)).toEqual([200, 200]);
    expect(both.map((b) => b.json.identifier)).toEqual(["google/gemma-3-1b", "google/gemma-3-1b"]);
    expect(stack.emu.loads.filter((l) => l.modelKey === "google/gemma-3-1b")).toHaveLength(1);
    expect(identifiers().sort()).toEqual(["google/gemma-3-1b", "qwen/qwen3-4b-2507"]);
    expect(identifiers().some((id) => /:\d+$/.test(id))).toBe(false);
  });

  it("exclusive unloads every other model and lists them", async () => {
    stack.emu.preload("google/gemma-3-1b");
    stack.emu.preload("text-embedding-nomic-embed-text-v1.5");
    const r = await load({ model_key: "qwen/qwen3-4b-2507", exclusive: true });
    expect(r.status).toBe(200);
    expect(r.json.loaded).toBe(true);
    expect(r.json.identifier).toBe("qwen/qwen3-4b-2507");
    expect([...r.json.unloaded].sort()).toEqual([
      "google/gemma-3-1b",
      "text-embedding-nomic-embed-text-v1.5",
    ]);
    expect(identifiers()).toEqual(["qwen/qwen3-4b-2507"]);
    expect([...stack.emu.unloads].sort()).toEqual([
      "google/gemma-3-1b",
      "text-embedding-nomic-embed-text-v1.5",
    ]);
  });

  it("exclusive on an already loaded model keeps it and unloads the rest", async () => {
    stack.emu.preload("qwen/qwen3-4b-2507");
    stack.emu.preload("google/gemma-3-1b");
    const r = await load({ model_key: "qwen/qwen3-4b-2507", exclusive: true });
    expect(r.status).toBe(200);
    expect(r.json.unloaded).toEqual(["google/gemma-3-1b"]);
    expect(stack.emu.loads).toEqual([]);
    expect(identifiers()).toEqual(["qwen/qwen3-4b-2507"]);
  });

  it("passes identifier, context_length and ttl to LM Studio", async () => {
    const r = await load({
      model_key: "google/gemma-3-1b",
      identifier: "my-gemma",
      context_length: 8192,
      ttl: 600,
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ loaded: true, model_key: "google/gemma-3-1b", identifier: "my-gemma" });
    expect(stack.emu.loads).toHaveLength(1);
    expect(stack.emu.loads[0]).toMatchObject({
      modelKey: "google/gemma-3-1b",
      identifier: "my-gemma",
      contextLength: 8192,
      ttlMs: 600_000,
      outcome: "loaded",
    });
    expect(stack.emu.loaded()).toEqual([
      {
        identifier: "my-gemma",
        modelKey: "google/gemma-3-1b",
        contextLength: 8192,
        ttlMs: 600_000,
        type: "llm",
      },
    ]);
    const listed = await getJson(`${stack.url}/models`);
    expect(listed.json.models).toEqual([
      expect.objectContaining({
        identifier: "my-gemma",
        model_key: "google/gemma-3-1b",
        context_length: 8192,
      }),
    ]);
  });

  it("404 with the reference's failure body for a model that is not downloaded", async () => {
    const r = await load({ model_key: "nobody/no-such-model" });
    expect(r.status).toBe(404);
    expect(r.json.loaded).toBe(false);
    expect(r.json.error).toMatch(/^Failed to load model: .+/);
    expect(r.json.error).toContain("nobody/no-such-model");
    expect(stack.emu.loads).toEqual([]);
    expectNoLeak(r.text);
  });

  it("rewords LM Studio's own load failure, and passes none of its text on", async () => {
    stack.emu.failNextLoad({ message: "Not enough memory to load the model", atProgress: 0.5 });
    const r = await load({ model_key: "google/gemma-3-1b" });
    expect(r.status).toBe(507);
    expect(r.json.loaded).toBe(false);
    expect(r.json.error).toMatch(/^Failed to load model: .*ran out of memory. Unload other models/);
    expect(r.json.error).not.toContain("Not enough memory");
    expect(identifiers()).toEqual([]);
    expectNoLeak(r.text);
  });

  it.each([
    ["no model_key", {}, ["body", "model_key"]],
    ["empty model_key", { model_key: "" }, ["body", "model_key"]],
    ["model_key not a string", { model_key: 42 }, ["body", "model_key"]],
    ["exclusive not a boolean", { model_key: "google/gemma-3-1b", exclusive: "yes" }, ["body", "exclusive"]],
    ["context_length 0", { model_key: "google/gemma-3-1b", context_length: 0 }, ["body", "context_length"]],
    [
      "context_length fractional",
      { model_key: "google/gemma-3-1b", context_length: 1.5 },
      ["body", "context_length"],
    ],
    ["ttl negative", { model_key: "google/gemma-3-1b", ttl: -1 }, ["body", "ttl"]],
    ["unknown field", { model_key: "google/gemma-3-1b", bogus: 1 }, ["body"]],
  ])("422 for a bad body: %s", async (_name, body, loc) => {
    const r = await load(body);
    const items = expectValidation(r.status, r.json);
    expect(items.some((d: Json) => JSON.stringify(d.loc).startsWith(JSON.stringify(loc).slice(0, -1)))).toBe(
      true,
    );
    expect(stack.emu.loads).toEqual([]);
  });

  it("422 for a body that is not an object", async () => {
    const r = await load([{ model_key: "google/gemma-3-1b" }]);
    expectValidation(r.status, r.json);
  });
});

describe("load timeout", () => {
  it("504 with the failure body when LM Studio takes longer than LOAD_TIMEOUT_MS", async () => {
    const slow = await startStack({ emu: stack.emu, env: { LOAD_TIMEOUT_MS: "300" } });
    try {
      stack.emu.hangNextLoad();
      const t0 = performance.now();
      const r = await postJson(`${slow.url}/models/load`, { model_key: "google/gemma-3-1b" });
      expect(r.status).toBe(504);
      expect(r.json.loaded).toBe(false);
      expect(r.json.error).toMatch(/^Failed to load model: .*300 ms/);
      expect(performance.now() - t0).toBeLessThan(3000);
      expectNoLeak(r.text);
    } finally {
      await slow.close();
    }
  });
});

describe("POST /models/unload", () => {
  it("unloads by model key", async () => {
    stack.emu.preload("qwen/qwen3-4b-2507");
    stack.emu.preload("google/gemma-3-1b");
    const r = await unload({ model_key: "qwen/qwen3-4b-2507" });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ unloaded: ["qwen/qwen3-4b-2507"] });
    expect(identifiers()).toEqual(["google/gemma-3-1b"]);
    expect(stack.emu.unloads).toEqual(["qwen/qwen3-4b-2507"]);
  });

  it("unloads by identifier", async () => {
    stack.emu.preload("google/gemma-3-1b", { identifier: "g1" });
    stack.emu.preload("google/gemma-3-1b", { identifier: "g2" });
    const r = await unload({ model_key: "g2" });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ unloaded: ["g2"] });
    expect(identifiers()).toEqual(["g1"]);
  });

  it("unloads every instance of a model key", async () => {
    stack.emu.preload("google/gemma-3-1b");
    stack.emu.preload("google/gemma-3-1b");
    stack.emu.preload("google/gemma-3-1b", { identifier: "third" });
    stack.emu.preload("qwen/qwen3-4b-2507");
    const r = await unload({ model_key: "google/gemma-3-1b" });
    expect(r.status).toBe(200);
    expect([...r.json.unloaded].sort()).toEqual(["google/gemma-3-1b", "google/gemma-3-1b:2", "third"]);
    expect(identifiers()).toEqual(["qwen/qwen3-4b-2507"]);
  });

  it("unload_all unloads everything, embeddings included", async () => {
    stack.emu.preload("qwen/qwen3-4b-2507");
    stack.emu.preload("text-embedding-nomic-embed-text-v1.5");
    const r = await unload({ unload_all: true });
    expect(r.status).toBe(200);
    expect([...r.json.unloaded].sort()).toEqual([
      "qwen/qwen3-4b-2507",
      "text-embedding-nomic-embed-text-v1.5",
    ]);
    expect(identifiers()).toEqual([]);
  });

  it("unload_all with nothing loaded unloads nothing", async () => {
    const r = await unload({ unload_all: true });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ unloaded: [] });
  });

  it("404 with a detail when nothing matches", async () => {
    stack.emu.preload("qwen/qwen3-4b-2507");
    const r = await unload({ model_key: "google/gemma-3-1b" });
    expect(r.status).toBe(404);
    expect(typeof r.json.detail).toBe("string");
    expect(r.json.detail).toContain("google/gemma-3-1b");
    expect(identifiers()).toEqual(["qwen/qwen3-4b-2507"]);
    expect(stack.emu.unloads).toEqual([]);
    expectNoLeak(r.text);
  });

  it.each([
    ["an empty body object", {}],
    ["unload_all false", { unload_all: false }],
    ["model_key null", { model_key: null }],
  ])("422 when neither field is given: %s", async (_name, body) => {
    stack.emu.preload("qwen/qwen3-4b-2507");
    const r = await unload(body);
    expectValidation(r.status, r.json);
    expect(identifiers()).toEqual(["qwen/qwen3-4b-2507"]);
  });
});
