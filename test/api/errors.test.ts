import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";
import { expectNoLeak, expectNoWarnings, getJson, type Json } from "./helpers.ts";

const REGULAR = "qwen/qwen3-4b-2507";
const VISION = "qwen3-vl-4b-instruct";
const OTHER = "google/gemma-3-1b";
/** The reference's text, then the address that refused (so that a wrong URL shows). */
const REFUSED =
  /^Could not connect to LM Studio: Connection refused \((ws|http):\/\/127\.0\.0\.1:\d+(\/v1)?\)$/;
const CHATS = ["/chat", "/chat/regular", "/chat/vision"];
const ALL_CHATS = CHATS.flatMap((p) => [p, `${p}/stream`]);

let deadEmu: LmStudioEmulator;
let down: Stack;
let strict: Stack;
let auto: Stack;

/** Every answer read in this file is also checked for internals (stack frames, paths). */
const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
  const r = await postJson(url, body, headers);
  expectNoLeak(r.text);
  return r;
};
const get = async (url: string) => {
  const r = await getJson(url);
  expectNoLeak(r.text);
  return r;
};
const messages = [{ role: "user", content: "hello" }];

beforeAll(async () => {
  deadEmu = await LmStudioEmulator.start();
  down = await startStack({ emu: deadEmu });
  expectNoWarnings(deadEmu);
  await deadEmu.stop();
  // LM Studio with JIT off: the reference's "not loaded" errors are what it then answers.
  strict = await startStack({
    env: { AUTO_LOAD: "false", MAX_BODY_BYTES: "2048" },
    emulator: { jit: false },
  });
  auto = await startStack();
});
beforeEach(() => {
  strict.emu.reset({ jit: false });
  auto.emu.reset();
});
afterEach(() => expectNoWarnings(strict.emu, auto.emu));
afterAll(async () => {
  await Promise.all([down.close(), strict.close(), auto.close()]);
});

describe("LM Studio not running", () => {
  it.each(ALL_CHATS)("%s: 503 with the reference's detail", async (path) => {
    const r = await post(`${down.url}${path}`, { messages });
    expect(r.status).toBe(503);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    expect(r.json.detail).toMatch(REFUSED);
  });

  it("GET /models: 503 with the reference's detail", async () => {
    const r = await get(`${down.url}/models`);
    expect(r.status).toBe(503);
    expect(r.json.detail).toMatch(REFUSED);
  });

  it("POST /models/load: 503 with the reference's failure body", async () => {
    const r = await post(`${down.url}/models/load`, { model_key: REGULAR });
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({
      loaded: false,
      error: expect.stringMatching(
        /^Failed to load model: Could not connect to LM Studio: Connection refused \(/,
      ),
    });
  });

  it("POST /models/unload: 503 with the reference's detail", async () => {
    for (const body of [{ model_key: REGULAR }, { unload_all: true }]) {
      const r = await post(`${down.url}/models/unload`, body);
      expect(r.status).toBe(503);
      expect(r.json.detail).toMatch(REFUSED);
    }
  });

  it("answers quickly, not after a timeout", async () => {
    const t0 = performance.now();
    const r = await post(`${down.url}/models`, {});
    const r2 = await get(`${down.url}/models`);
    expect(r.status).toBe(405);
    expect(r2.status).toBe(503);
    expect(performance.now() - t0).toBeLessThan(1500);
  });
});

describe("no model loaded (AUTO_LOAD=false)", () => {
  it.each(ALL_CHATS)("%s: 503 Chat service unavailable: No model loaded", async (path) => {
    const r = await post(`${strict.url}${path}`, { messages });
    expect(r.status).toBe(503);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    expect(r.json.detail).toBe("Chat service unavailable: No model loaded");
    expect(strict.emu.loads).toEqual([]);
  });

  it.each(ALL_CHATS)("%s: a named model that is not loaded gets a 503 naming it", async (path) => {
    // Another model is loaded, but not the one the endpoint defaults to.
    strict.emu.preload(OTHER);
    const wanted = path.includes("vision") ? VISION : REGULAR;
    const r = await post(`${strict.url}${path}`, { messages });
    expect(r.status).toBe(503);
    expect(r.json.detail).toMatch(/^Chat service unavailable: /);
    expect(r.json.detail).toContain(wanted);
    expect(strict.emu.loads).toEqual([]);
  });

  it("model_key that is not loaded: 503 naming it", async () => {
    strict.emu.preload(REGULAR);
    const r = await post(`${strict.url}/chat`, { model_key: OTHER, messages });
    expect(r.status).toBe(503);
    expect(r.json.detail).toContain(OTHER);
    expect(strict.emu.loads).toEqual([]);
  });
});

describe("AUTO_LOAD (default on)", () => {
  it("loads the default model on demand, once, and answers", async () => {
    const r = await post(`${auto.url}/chat/regular`, { messages });
    expect(r.status).toBe(200);
    expect(r.json.model).toBe(REGULAR);
    expect(auto.emu.loads).toHaveLength(1);
    expect(auto.emu.loads[0]).toMatchObject({ modelKey: REGULAR, outcome: "loaded" });
    const again = await post(`${auto.url}/chat/regular`, { messages });
    expect(again.status).toBe(200);
    expect(auto.emu.loads).toHaveLength(1);
  });

  it("a model_key that is not downloaded: 404 naming it, nothing loaded", async () => {
    const r = await post(`${auto.url}/chat`, { model_key: "nobody/no-such-model", messages });
    expect(r.status).toBe(404);
    expect(r.json.detail).toContain("nobody/no-such-model");
    expect(auto.emu.loads).toEqual([]);
  });
});

describe("upstream failures", () => {
  it("an LM Studio 500 becomes a 502 with a detail, no internals", async () => {
    auto.emu.preload(REGULAR);
    auto.emu.failNextChat({ status: 500, body: { error: "Internal error" } });
    const r = await post(`${auto.url}/chat/regular`, { messages });
    expect(r.status).toBe(502);
    expect(typeof r.json.detail).toBe("string");
    expect(r.json.detail).toContain("LM Studio");
  });

  it("a dropped connection mid-answer becomes a 502", async () => {
    auto.emu.preload(REGULAR);
    auto.emu.failNextChat({ afterChunks: 1, mode: "drop" });
    const r = await post(`${auto.url}/chat/regular`, { messages });
    expect(r.status).toBe(502);
    expect(typeof r.json.detail).toBe("string");
  });
});

describe("HTTP-level errors", () => {
  it.each(["/chat", "/chat/regular/stream", "/models/load", "/models/unload"])(
    "%s: malformed JSON is a 400 with a detail",
    async (path) => {
      const r = await post(`${auto.url}${path}`, '{"messages": [');
      expect(r.status).toBe(400);
      expect(typeof r.json.detail).toBe("string");
      expect(r.json.detail.length).toBeGreaterThan(0);
      expect(auto.emu.chats).toHaveLength(0);
    },
  );

  it.each(["text/plain", "application/x-www-form-urlencoded", "application/xml"])(
    "a body sent as %s is a 415 with a detail",
    async (type) => {
      const r = await post(`${auto.url}/chat`, JSON.stringify({ messages }), { "content-type": type });
      expect(r.status).toBe(415);
      expect(typeof r.json.detail).toBe("string");
      expect(auto.emu.chats).toHaveLength(0);
    },
  );

  it("application/json with a charset parameter is accepted", async () => {
    auto.emu.preload(REGULAR);
    const r = await post(
      `${auto.url}/chat`,
      { messages },
      { "content-type": "application/json; charset=utf-8" },
    );
    expect(r.status).toBe(200);
  });

  it("a body over MAX_BODY_BYTES is a 413 with a detail", async () => {
    const r = await post(`${strict.url}/chat`, { messages: [{ role: "user", content: "x".repeat(4000) }] });
    expect(r.status).toBe(413);
    expect(typeof r.json.detail).toBe("string");
    expect(strict.emu.chats).toHaveLength(0);
    // Just under the limit is fine (and reaches the validation / upstream layer).
    const ok = await post(`${strict.url}/chat`, { messages: [{ role: "user", content: "x".repeat(1500) }] });
    expect(ok.status).not.toBe(413);
  });

  it.each([
    ["GET", "/nope"],
    ["POST", "/chat/unknown"],
    ["GET", "/models/load/extra"],
  ])("%s %s: 404 with a detail", async (method, path) => {
    const res = await fetch(`${auto.url}${path}`, { method });
    const text = await res.text();
    expectNoLeak(text);
    expect(res.status).toBe(404);
    const body: Json = JSON.parse(text);
    expect(typeof body.detail).toBe("string");
    expect(body.detail).toContain(path);
  });

  it.each([
    ["DELETE", "/models", "GET"],
    ["GET", "/chat", "POST"],
    ["PUT", "/models/load", "POST"],
  ])(
    "%s %s: 405 with Allow, as FastAPI answers a known path with the wrong method",
    async (method, path, allow) => {
      const res = await fetch(`${auto.url}${path}`, { method });
      const body: Json = await res.json();
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe(allow);
      expect(body).toEqual({
        detail: `Method Not Allowed: ${method} ${path} (use ${allow})`,
        code: "method_not_allowed",
        request_id: res.headers.get("x-request-id"),
      });
    },
  );

  it("an empty POST body is a 4xx with a detail, not a 500", async () => {
    const res = await fetch(`${auto.url}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    const text = await res.text();
    expectNoLeak(text);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(JSON.parse(text).detail).toBeDefined();
  });

  it("a JSON body that is not an object is a 422", async () => {
    for (const body of ["null", "42", '"text"', "[]"]) {
      const r = await post(`${auto.url}/chat`, body);
      expect(r.status).toBe(422);
      expect(Array.isArray(r.json.detail)).toBe(true);
    }
  });
});
