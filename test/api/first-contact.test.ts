/**
 * What a new user and a hostile client hit in the first hour: names in the wrong case, near-miss
 * fields, data URLs, a missing image file, Fastify's own errors, and upstream text.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PNG_1x1, postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";
import { expectNoLeak, type Json } from "./helpers.ts";

const QWEN = "qwen/qwen3-4b-2507";
const GEMMA = "google/gemma-3-1b";
const user = (content: string) => [{ role: "user", content }];

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { MAX_BODY_BYTES: "4096", MODEL_ALIASES: "gpt-4o-mini=qwen/qwen3-4b-2507" },
  });
});
afterAll(async () => {
  await stack.close();
});
beforeEach(() => {
  stack.emu.reset({ preload: [QWEN] });
});

describe("a model named in the wrong case", () => {
  it("load: answers the loaded instance, and loads no copy", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await postJson(`${stack.url}/models/load`, { model_key: "Qwen/Qwen3-4B-2507" });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ identifier: QWEN, model_key: QWEN, already_loaded: true });
    }
    expect(stack.emu.loads).toEqual([]);
    expect(stack.emu.loaded().map((m) => m.identifier)).toEqual([QWEN]);
  });

  it("chat with on-demand loading: one load of the canonical key, then chats go to it", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await postJson(`${stack.url}/chat`, { model_key: "Google/Gemma-3-1B", messages: user("hi") });
      expect(r.status).toBe(200);
    }
    expect(stack.emu.loads.map((l) => l.modelKey)).toEqual([GEMMA]);
    expect(
      stack.emu
        .loaded()
        .map((m) => m.identifier)
        .sort(),
    ).toEqual([GEMMA, QWEN]);
    expect(stack.emu.chats.map((c) => c.body.model)).toEqual([GEMMA, GEMMA, GEMMA]);
  });

  it("unload: unloads the instance the name means", async () => {
    const r = await postJson(`${stack.url}/models/unload`, { model_key: "QWEN/QWEN3-4B-2507" });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ unloaded: [QWEN] });
    expect(stack.emu.loaded()).toEqual([]);
  });

  it("a name that is no model: 404 with close matches, nothing loaded", async () => {
    const r = await postJson(`${stack.url}/models/load`, { model_key: "Google/Gemma-3" });
    expect(r.status).toBe(404);
    expect(r.json.suggestions).toContain(GEMMA);
    expect(stack.emu.loads).toEqual([]);
  });
});

describe("MODEL_ALIASES", () => {
  it("an alias is accepted wherever a model name is: chat, load, unload", async () => {
    const chat = await postJson(`${stack.url}/chat`, { model_key: "gpt-4o-mini", messages: user("hi") });
    expect(chat.status).toBe(200);
    expect(stack.emu.chats.at(-1)?.body.model).toBe(QWEN);
    const load = await postJson(`${stack.url}/models/load`, { model_key: "gpt-4o-mini" });
    expect(load.json).toMatchObject({ identifier: QWEN, already_loaded: true });
    const unload = await postJson(`${stack.url}/models/unload`, { model_key: "gpt-4o-mini" });
    expect(unload.json).toEqual({ unloaded: [QWEN] });
    expect(stack.emu.loads).toEqual([]);
  });
});

describe("near-miss fields say what was meant", () => {
  it.each([
    [{ model: QWEN, messages: user("hi") }, [], 'Unknown field "model": did you mean "model_key"?'],
    [
      { messages: user("hi"), config: { max_tokens: 5 } },
      ["config"],
      'Unknown field "max_tokens": did you mean "maxTokens"?',
    ],
    [
      { messages: user("hi"), stream: true },
      [],
      'Unknown field "stream": streaming has its own endpoints: POST /chat/stream (and /chat/regular/stream, /chat/vision/stream)',
    ],
  ])("%j", async (body, loc, msg) => {
    const r = await postJson(`${stack.url}/chat`, body);
    expect(r.status).toBe(422);
    expect(r.json.detail).toContainEqual({ loc: ["body", ...loc], msg, type: "value_error.extra_fields" });
    expect(stack.emu.chats).toEqual([]);
  });

  it("on /models/load too", async () => {
    const r = await postJson(`${stack.url}/models/load`, { model: QWEN });
    expect(r.status).toBe(422);
    expect(r.json.detail.map((d: Json) => d.msg)).toContain(
      'Unknown field "model": did you mean "model_key"?',
    );
  });
});

describe("images", () => {
  it("a data URL carries its own type: mime_type may be left out", async () => {
    const r = await postJson(`${stack.url}/chat/vision`, {
      messages: [
        {
          role: "user",
          content: "what is it?",
          images: [{ data_base64: `data:image/png;base64,${PNG_1x1}` }],
        },
      ],
    });
    expect(r.status).toBe(200);
    const sent = stack.emu.chats[0]?.body.messages[0].content;
    expect(sent[1]).toEqual({ type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1x1}` } });
  });

  it("raw base64 without mime_type: one error that says to give it", async () => {
    const r = await postJson(`${stack.url}/chat`, {
      model_key: QWEN,
      messages: [{ role: "user", content: "x", images: [{ data_base64: PNG_1x1 }] }],
    });
    expect(r.status).toBe(422);
    expect(r.json.detail).toHaveLength(1);
    expect(r.json.detail[0].loc).toEqual(["body", "messages", 0, "images", 0, "mime_type"]);
    expect(r.json.detail[0].msg).toMatch(/^mime_type is missing/);
  });

  it("a data URL and a mime_type that disagree are still refused", async () => {
    const r = await postJson(`${stack.url}/chat`, {
      model_key: QWEN,
      messages: [
        {
          role: "user",
          content: "x",
          images: [{ data_base64: `data:image/png;base64,${PNG_1x1}`, mime_type: "image/jpeg" }],
        },
      ],
    });
    expect(r.status).toBe(422);
    expect(r.json.detail[0].msg).toBe('The data URL says "image/png" but mime_type is "image/jpeg"');
  });

  it("a missing file (`base64 -w0 photo.jpg` printed nothing): one clear error, not two", async () => {
    const r = await postJson(`${stack.url}/chat/vision`, {
      messages: [{ role: "user", content: "x", images: [{ data_base64: "", mime_type: "image/jpeg" }] }],
    });
    expect(r.status).toBe(422);
    expect(r.json.detail).toHaveLength(1);
    expect(r.json.detail[0].msg).toMatch(/^Image data is empty: was the file there\?/);
  });
});

describe("Fastify's own errors carry our codes", () => {
  const send = (body: string, headers: Record<string, string>) =>
    fetch(`${stack.url}/chat`, { method: "POST", headers, body }).then(async (r) => ({
      status: r.status,
      headers: r.headers,
      text: await r.text(),
    }));

  it("415 for a body that is not JSON", async () => {
    const r = await send("hello", { "content-type": "text/plain" });
    expect(r.status).toBe(415);
    expect(JSON.parse(r.text)).toEqual({
      detail: 'Unsupported Media Type "text/plain": send Content-Type: application/json',
      code: "unsupported_media_type",
      request_id: r.headers.get("x-request-id"),
    });
  });

  it("413 that names the limit and MAX_BODY_BYTES", async () => {
    const r = await send(JSON.stringify({ messages: user("x".repeat(5000)) }), {
      "content-type": "application/json",
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.text)).toMatchObject({ code: "body_too_large" });
    expect(JSON.parse(r.text).detail).toMatch(/larger than 4096 bytes, the limit set by MAX_BODY_BYTES/);
  });

  it("400 for JSON that does not parse", async () => {
    const r = await send("{", { "content-type": "application/json" });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).code).toBe("invalid_json");
  });

  it("no FST_ code reaches a client", async () => {
    for (const [body, type] of [
      ["hello", "text/plain"],
      ["{", "application/json"],
      ["", "application/json"],
      [JSON.stringify({ messages: user("x".repeat(5000)) }), "application/json"],
    ]) {
      const r = await send(body as string, { "content-type": type as string });
      expect(r.text).not.toContain("FST_");
    }
  });
});

describe("what LM Studio says stays in the log", () => {
  it("an unrecognised chat failure: a fixed message for the client, LM Studio's text in the log with the request id", async () => {
    const secret = "Error: boom at Foo (/secret/path/file.js:1:1)";
    stack.emu.failNextChat({ status: 500, body: { error: secret } });
    const before = stack.logs.length;
    const r = await postJson(`${stack.url}/chat`, { model_key: QWEN, messages: user("hi") });
    expect(r.status).toBe(502);
    expect(r.json.code).toBe("upstream_error");
    expect(r.text).not.toContain("boom");
    expect(r.text).not.toContain("/secret/path");
    expectNoLeak(r.text);
    const logged = stack.logs.slice(before).map((l) => JSON.parse(l) as Json);
    const line = logged.find((l) => typeof l.upstream === "string" && l.upstream.includes("boom"));
    expect(line).toBeDefined();
    expect(typeof line.reqId).toBe("string");
  });

  it("the same in a stream's error line", async () => {
    stack.emu.failNextChat({
      status: 500,
      body: { error: "Error: boom at Foo (/secret/path/file.js:1:1)" },
      afterChunks: 2,
    });
    const r = await postNdjson(`${stack.url}/chat/stream`, { model_key: QWEN, messages: user("hi") });
    expect(r.lines.at(-1).type).toBe("error");
    expect(r.text).not.toContain("boom");
    expectNoLeak(r.text);
  });
});

describe("Server-Timing on a stream", () => {
  it("reports the upstream's real time to the first token in the header, and the whole in a trailer", async () => {
    stack.emu.reset({ preload: [QWEN], firstChunkDelayMs: 60 });
    const res = await fetch(`${stack.url}/chat/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_key: QWEN, messages: user("hi") }),
    });
    const header = res.headers.get("server-timing") ?? "";
    const upstream = Number(/upstream;dur=([\d.]+)/.exec(header)?.[1]);
    expect(upstream).toBeGreaterThanOrEqual(50);
    expect(res.headers.get("trailer")).toBe("server-timing");
    await res.text();
  });
});
