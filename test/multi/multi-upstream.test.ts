/**
 * Several upstreams behind one service: two LM Studio emulators ("a", "b") and one emulator played
 * as a plain OpenAI-compatible engine ("c": JIT off, kind openai, its SDK side unused).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { type EmulatorOptions, LmStudioEmulator } from "../emulator/emulator.ts";
import { postJson, postNdjson, readResponse, type Stack, startStack } from "../helpers/stack.ts";
import { writeUpstreamsFile } from "./upstreams-file.ts";

const MODEL = "google/gemma-3-1b";
const OTHER = "qwen/qwen3-4b-2507";
const dir = mkdtempSync(join(tmpdir(), "lmstudio-service-multi-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Multi {
  a: LmStudioEmulator;
  b: LmStudioEmulator;
  c: LmStudioEmulator;
  stack: Stack;
  file: string;
}

let current: Multi | undefined;
afterEach(async () => {
  if (!current) return;
  const { stack, a, b, c } = current;
  current = undefined;
  await stack.close();
  await Promise.all([a.stop(), b.stop(), c.stop()]);
});

async function startMulti(
  opts: { a?: EmulatorOptions; b?: EmulatorOptions; c?: EmulatorOptions; env?: Record<string, string> } = {},
): Promise<Multi> {
  const [a, b, c] = await Promise.all([
    LmStudioEmulator.start(opts.a),
    LmStudioEmulator.start(opts.b),
    LmStudioEmulator.start({ jit: false, ...opts.c }),
  ]);
  const file = writeUpstreamsFile(dir, a, b, c);
  const stack = await startStack({
    emu: a,
    env: { UPSTREAMS_FILE: file, UPSTREAM_CHECK_INTERVAL_MS: "100", ...opts.env },
  });
  current = { a, b, c, stack, file };
  return current;
}

const user = (text: string) => ({ messages: [{ role: "user", content: text }] });
const chatsFor = (emu: LmStudioEmulator) => emu.chats.filter((c) => c.endpoint === "/v1/chat/completions");

async function health(url: string) {
  return (await readResponse(await fetch(`${url}/health`))).json;
}

async function waitForState(url: string, name: string, state: string) {
  for (let i = 0; i < 200; i++) {
    const h = await health(url);
    if (h.upstreams?.find((u: { name: string }) => u.name === name)?.state === state) return h;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`upstream ${name} never became ${state}`);
}

describe("routing", () => {
  it("serves a model where it is loaded, and loads nothing", async () => {
    const { a, b, c, stack } = await startMulti({ b: { preload: [MODEL] } });
    for (let i = 0; i < 3; i++) {
      const res = await postJson(`${stack.url}/chat`, { model_key: MODEL, ...user(`hi ${i}`) });
      expect(res.status, res.text).toBe(200);
    }
    expect(chatsFor(b)).toHaveLength(3);
    expect(chatsFor(a)).toHaveLength(0);
    expect(chatsFor(c)).toHaveLength(0);
    expect([...a.loads, ...b.loads]).toEqual([]);
  });

  it("loads a model loaded nowhere on the least loaded LM Studio that has it, then serves it there", async () => {
    const { a, b, c, stack } = await startMulti({ a: { preload: [OTHER] } });
    const res = await postJson(`${stack.url}/chat`, { model_key: MODEL, ...user("hi") });
    expect(res.status, res.text).toBe(200);
    expect(a.loads).toEqual([]);
    expect(b.loads.map((l) => [l.modelKey, l.identifier, l.outcome])).toEqual([[MODEL, MODEL, "loaded"]]);
    expect(chatsFor(b)).toHaveLength(1);
    expect(chatsFor(c)).toHaveLength(0);
  });

  it("spreads 30 concurrent streams by load across the upstreams that have the model", async () => {
    const slow = { preload: [MODEL], chunkDelayMs: 15, reply: "one two three four five six seven eight" };
    const { a, b, c, stack } = await startMulti({
      a: slow,
      b: slow,
      c: slow,
      env: { MAX_CHATS_PER_MODEL: "10" },
    });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        postNdjson(`${stack.url}/chat/stream`, { model_key: MODEL, ...user(`n${i}`) }),
      ),
    );
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.lines.at(-1).type).toBe("done");
    }
    const counts = [a, b, c].map((e) => chatsFor(e).length);
    expect(counts.reduce((x, y) => x + y)).toBe(30);
    // Each runs at most 10 at once (its capacity): least-busy routing gives each its share.
    for (const n of counts) expect(n).toBeGreaterThanOrEqual(8);
  });

  it("sends a pinned request to its upstream (body on the reference API, X-Upstream on /v1)", async () => {
    const { a, b, stack } = await startMulti({ a: { preload: [MODEL] }, b: { preload: [MODEL] } });
    for (let i = 0; i < 3; i++) {
      const res = await postJson(`${stack.url}/chat`, { model_key: MODEL, upstream: "b", ...user("hi") });
      expect(res.status, res.text).toBe(200);
    }
    const openai = new OpenAI({
      baseURL: `${stack.url}/v1`,
      apiKey: "x",
      maxRetries: 0,
      defaultHeaders: { "x-upstream": "b" },
    });
    const completion = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(completion.choices[0]?.message.content).toContain("Hello");
    expect(chatsFor(b)).toHaveLength(4);
    expect(chatsFor(a)).toHaveLength(0);

    const unknown = await postJson(`${stack.url}/chat`, { model_key: MODEL, upstream: "zz", ...user("hi") });
    expect(unknown.status).toBe(404);
    expect(unknown.json.code).toBe("unknown_upstream");
    expect(unknown.json.detail).toContain('"zz"');
  });

  it("a pinned chat for a model loaded elsewhere loads it on the pinned upstream", async () => {
    const { a, b, stack } = await startMulti({ a: { preload: [MODEL] } });
    const res = await postJson(`${stack.url}/chat`, { model_key: MODEL, upstream: "b", ...user("hi") });
    expect(res.status, res.text).toBe(200);
    expect(b.loads.map((l) => l.modelKey)).toEqual([MODEL]);
    expect(chatsFor(b)).toHaveLength(1);
    expect(chatsFor(a)).toHaveLength(0);
  });
});

describe("one view of the models", () => {
  it("merges the upstreams' lists and says where each model is", async () => {
    const { stack } = await startMulti({ a: { preload: [MODEL] }, c: { preload: [OTHER] } });
    const loaded = (await readResponse(await fetch(`${stack.url}/models`))).json.models;
    expect(
      loaded.map((m: { identifier: string; upstream: string }) => [m.identifier, m.upstream]).sort(),
    ).toEqual([
      [MODEL, "a"],
      [OTHER, "c"],
    ]);
    const available = (await readResponse(await fetch(`${stack.url}/models/available`))).json.models;
    const where = (key: string) =>
      available
        .filter((m: { model_key: string }) => m.model_key === key)
        .map((m: { upstream: string; loaded: boolean }) => `${m.upstream}:${m.loaded}`)
        .sort();
    expect(where(MODEL)).toEqual(["a:true", "b:false"]);
    expect(where(OTHER)).toEqual(["a:false", "b:false", "c:true"]);
    const v1 = (await readResponse(await fetch(`${stack.url}/v1/models`))).json.data;
    const v1Where = Object.fromEntries(
      v1.map((m: { id: string; upstreams: string[] }) => [m.id, m.upstreams]),
    );
    expect(v1Where[MODEL]).toEqual(["a", "b"]);
    expect(v1Where[OTHER]).toEqual(["a", "b", "c"]);
  });

  it("loads and unloads on a named upstream; an engine that manages its models answers 409", async () => {
    const { a, b, c, stack } = await startMulti({ a: { preload: [OTHER] }, b: { preload: [OTHER] } });
    const load = await postJson(`${stack.url}/models/load`, {
      model_key: MODEL,
      upstream: "a",
      exclusive: true,
    });
    expect(load.status, load.text).toBe(200);
    expect(load.json).toMatchObject({ loaded: true, identifier: MODEL, upstream: "a", unloaded: [OTHER] });
    // Exclusive acts within one upstream: b keeps its model.
    expect(a.loaded().map((m) => m.identifier)).toEqual([MODEL]);
    expect(b.loaded().map((m) => m.identifier)).toEqual([OTHER]);

    const refused = await postJson(`${stack.url}/models/load`, { model_key: MODEL, upstream: "c" });
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatch(/c is an OpenAI-compatible engine that manages its models itself/);
    expect(c.loads).toEqual([]);

    const unload = await postJson(`${stack.url}/models/unload`, { model_key: OTHER, upstream: "b" });
    expect(unload.status, unload.text).toBe(200);
    expect(b.loaded()).toEqual([]);
    expect(a.loaded().map((m) => m.identifier)).toEqual([MODEL]);
  });
});

describe("health and failover", () => {
  it("shows each upstream's state, version, chats in flight and last error", async () => {
    const { b, stack } = await startMulti();
    const h = await waitForState(stack.url, "b", "up");
    expect(h.status).toBe("ok");
    expect(h.upstreams.map((u: { name: string; kind: string }) => [u.name, u.kind])).toEqual([
      ["a", "lmstudio"],
      ["b", "lmstudio"],
      ["c", "openai"],
    ]);
    expect(h.upstreams[0]).toMatchObject({ state: "up", version: "0.4.21", chats_in_flight: 0 });
    await b.stop();
    const down = await waitForState(stack.url, "b", "down");
    expect(down.status).toBe("degraded");
    expect(down.upstreams[1].last_error).toMatch(/connect/i);
    const pinned = await postJson(`${stack.url}/chat`, { model_key: MODEL, upstream: "b", ...user("hi") });
    expect(pinned.status).toBe(503);
    expect(pinned.json.detail).toMatch(/^b is down/);
  });

  it("moves requests off a host that dies before answering, and uses it again when it is back", async () => {
    const busy = { preload: [MODEL], chunkDelayMs: 20, reply: "one two three four five six seven eight" };
    const { a, b, c, stack } = await startMulti({
      a: busy,
      b: { preload: [MODEL], firstChunkDelayMs: 10_000 },
      c: busy,
    });
    await waitForState(stack.url, "b", "up");
    // Nine at once: about three wait on b, which has not answered yet when it dies.
    const first = Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        postNdjson(`${stack.url}/chat/stream`, { model_key: MODEL, ...user(`first ${i}`) }),
      ),
    );
    await b.waitFor(() => chatsFor(b).length >= 2);
    await b.stop();
    for (const r of await first) {
      expect(r.status).toBe(200);
      expect(r.lines.map((l) => l.type)).not.toContain("error");
      expect(r.lines.at(-1).type).toBe("done");
    }
    expect(chatsFor(a).length + chatsFor(c).length).toBe(9);

    const during = b.chats.length;
    const more = await Promise.all(
      Array.from({ length: 6 }, () => postJson(`${stack.url}/chat`, { model_key: MODEL, ...user("more") })),
    );
    for (const r of more) expect(r.status, r.text).toBe(200);
    expect(b.chats.length).toBe(during);

    b.configure({ firstChunkDelayMs: 0, chunkDelayMs: 20 });
    a.configure({ chunkDelayMs: 20 });
    c.configure({ chunkDelayMs: 20 });
    await b.restart();
    await waitForState(stack.url, "b", "up");
    const after = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        postNdjson(`${stack.url}/chat/stream`, { model_key: MODEL, ...user(`after ${i}`) }),
      ),
    );
    for (const r of after) expect(r.lines.at(-1).type).toBe("done");
    expect(chatsFor(b).filter((x) => x.outcome === "finished").length).toBeGreaterThanOrEqual(2);
  });

  it("never retries once the answer has started: the stream ends with an error line", async () => {
    const { a, b, stack } = await startMulti({
      a: { preload: [MODEL] },
      b: { preload: [MODEL], chunkDelayMs: 50, reply: "one two three four five six seven eight nine ten" },
    });
    const res = fetch(`${stack.url}/chat/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_key: MODEL, upstream: "b", ...user("hi") }),
    });
    await b.waitFor(() => (chatsFor(b)[0]?.chunksSent ?? 0) >= 2);
    await b.stop();
    const text = await (await res).text();
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0].type).toBe("fragment");
    expect(lines.at(-1).type).toBe("error");
    expect(chatsFor(a)).toHaveLength(0);
  });

  it("/v1 pass-through fails over too", async () => {
    const { a, b, stack } = await startMulti({
      a: { preload: [MODEL] },
      b: { preload: [MODEL], firstChunkDelayMs: 10_000 },
    });
    await waitForState(stack.url, "b", "up");
    const openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "x", maxRetries: 0 });
    const pending = Promise.all(
      Array.from({ length: 4 }, () =>
        openai.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
      ),
    );
    await b.waitFor(() => chatsFor(b).length >= 1);
    await b.stop();
    const answers = await pending;
    for (const x of answers) expect(x.choices[0]?.message.content).toContain("Hello");
    expect(chatsFor(a).filter((x) => x.outcome === "finished").length).toBe(4);
  });
});

describe("with one upstream", () => {
  it("ignores upstream in bodies and X-Upstream, and has no upstreams in /health", async () => {
    const stack = await startStack({ emulator: { preload: [MODEL] } });
    try {
      const chat = await postJson(`${stack.url}/chat`, { model_key: MODEL, upstream: "zz", ...user("hi") });
      expect(chat.status, chat.text).toBe(200);
      const load = await postJson(`${stack.url}/models/load`, { model_key: OTHER, upstream: "zz" });
      expect(load.status, load.text).toBe(200);
      expect(load.json.upstream).toBeUndefined();
      const unload = await postJson(`${stack.url}/models/unload`, { model_key: OTHER, upstream: "zz" });
      expect(unload.json).toEqual({ unloaded: [OTHER] });
      const v1 = await fetch(`${stack.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-upstream": "zz" },
        body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
      });
      expect(v1.status).toBe(200);
      const h = await health(stack.url);
      expect(h.upstreams).toBeUndefined();
      const models = (await readResponse(await fetch(`${stack.url}/models`))).json.models;
      expect(models[0].upstream).toBeUndefined();
    } finally {
      await stack.close();
    }
  });
});
