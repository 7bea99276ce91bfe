/** Conformance of the emulator's OpenAI-compatible HTTP side, driven by the real `openai` client. */
import OpenAI, { APIError } from "openai";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "./emulator.ts";

const QWEN = "qwen/qwen3-4b-2507";
const VL = "qwen3-vl-4b-instruct";
const GEMMA = "google/gemma-3-1b";
const NOMIC = "text-embedding-nomic-embed-text-v1.5";
// 1x1 transparent PNG
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

let emu: LmStudioEmulator;
let openai: OpenAI;

async function apiError(p: Promise<unknown>): Promise<APIError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof APIError) return err;
    throw err;
  }
  throw new Error("expected an APIError");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const hi = [{ role: "user" as const, content: "hi there" }];

beforeAll(async () => {
  emu = await LmStudioEmulator.start();
  openai = new OpenAI({ baseURL: emu.openaiBaseUrl, apiKey: "lm-studio", maxRetries: 0 });
});

beforeEach(() => {
  // these tests pin the JIT-off behaviour; defaults.test.ts covers LM Studio's defaults
  emu.reset({ loadTimeMs: 10, jit: false });
});

afterEach(() => {
  expect(emu.warnings).toEqual([]);
});

afterAll(async () => {
  expect(emu.warnings).toEqual([]);
  await emu.stop();
});

describe("/v1/models", () => {
  it("lists only loaded models with JIT off, downloaded llms with JIT on", async () => {
    expect((await openai.models.list()).data).toEqual([]);
    emu.preload(GEMMA);
    emu.preload(GEMMA);
    emu.preload(NOMIC);
    const ids = (await openai.models.list()).data.map((m) => m.id);
    expect(ids).toEqual([GEMMA, `${GEMMA}:2`, NOMIC]);
    const raw = await (await fetch(`${emu.openaiBaseUrl}/models`)).json();
    expect(raw.object).toBe("list");
    expect(raw.data[0]).toEqual({ id: GEMMA, object: "model", owned_by: "organization_owner" });
    emu.unloadAll();
    emu.configure({ jit: true });
    const jitIds = (await openai.models.list()).data.map((m) => m.id);
    expect(jitIds).toEqual(expect.arrayContaining([QWEN, VL, GEMMA]));
    expect(jitIds).not.toContain(NOMIC);
  });
});

describe("chat completions", () => {
  it("answers without streaming, LM Studio style", async () => {
    emu.preload(GEMMA);
    const res = await openai.chat.completions.create({ model: GEMMA, messages: hi });
    expect(res.object).toBe("chat.completion");
    expect(res.model).toBe(GEMMA);
    expect(res.choices[0]?.message).toMatchObject({
      role: "assistant",
      content: `Hello from ${GEMMA}! You said: hi there`,
    });
    expect(res.choices[0]?.finish_reason).toBe("stop");
    expect(res.usage).toEqual({ prompt_tokens: 2, completion_tokens: 7, total_tokens: 9 });
    expect(res.system_fingerprint).toBe(GEMMA);
    expect((res as unknown as { stats: unknown }).stats).toEqual({});
    expect(emu.chats).toHaveLength(1);
    expect(emu.chats[0]).toMatchObject({
      model: GEMMA,
      stream: false,
      outcome: "finished",
      status: 200,
      authorization: "Bearer lm-studio",
      body: { model: GEMMA, messages: hi },
    });
  });

  it("matches a model key to its loaded identifier and reports the identifier", async () => {
    emu.preload(QWEN, { identifier: "qwen-custom" });
    const res = await openai.chat.completions.create({ model: QWEN, messages: hi });
    expect(res.model).toBe("qwen-custom");
    expect(emu.chats[0]?.model).toBe("qwen-custom");
    const res2 = await openai.chat.completions.create({ model: "qwen-custom", messages: hi });
    expect(res2.model).toBe("qwen-custom");
  });

  it("streams with role first, content deltas, finish chunk, usage chunk and [DONE]", async () => {
    emu.preload(GEMMA);
    emu.configure({ reply: "one two three four five" });
    const stream = await openai.chat.completions.create({
      model: GEMMA,
      messages: hi,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("one two three four five");
    expect(chunks.every((c) => c.model === GEMMA && c.object === "chat.completion.chunk")).toBe(true);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
    expect(chunks).toHaveLength(5 + 2);
    expect(emu.chats[0]).toMatchObject({ stream: true, outcome: "finished", chunksSent: 5 });

    // raw wire format
    const raw = await fetch(`${emu.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: GEMMA, messages: hi, stream: true }),
    });
    expect(raw.headers.get("content-type")).toBe("text/event-stream");
    const text = await raw.text();
    const frames = text.split("\n\n").filter((f) => f !== "");
    expect(frames.every((f) => f.startsWith("data: "))).toBe(true);
    expect(frames.at(-1)).toBe("data: [DONE]");
    expect(text).not.toContain('"usage"');
  });

  it("groups tokensPerChunk words per chunk", async () => {
    emu.preload(GEMMA);
    emu.configure({ reply: "a b c d e", tokensPerChunk: 2 });
    const stream = await openai.chat.completions.create({ model: GEMMA, messages: hi, stream: true });
    const contents: string[] = [];
    for await (const c of stream) if (c.choices[0]?.delta.content) contents.push(c.choices[0].delta.content);
    expect(contents).toEqual(["a b", " c d", " e"]);
  });

  it("honours max_tokens with finish_reason length", async () => {
    emu.preload(GEMMA);
    emu.configure({
      reply: (body: { messages: unknown[] }) => `w1 w2 w3 w4 w5 w6 (${body.messages.length})`,
    });
    const res = await openai.chat.completions.create({ model: GEMMA, messages: hi, max_tokens: 3 });
    expect(res.choices[0]?.message.content).toBe("w1 w2 w3");
    expect(res.choices[0]?.finish_reason).toBe("length");
    expect(res.usage?.completion_tokens).toBe(3);
    const stream = await openai.chat.completions.create({
      model: GEMMA,
      messages: hi,
      max_tokens: 2,
      stream: true,
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("w1 w2");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("length");
    const full = await openai.chat.completions.create({ model: GEMMA, messages: hi, max_tokens: -1 });
    expect(full.choices[0]?.message.content).toBe("w1 w2 w3 w4 w5 w6 (1)");
  });

  it("accepts base64 data URLs for the vision model", async () => {
    emu.preload(VL);
    const res = await openai.chat.completions.create({
      model: VL,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is this" },
            { type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } },
          ],
        },
      ],
    });
    expect(res.choices[0]?.message.content).toBe(`Hello from ${VL}! You said: what is this`);
    expect(res.usage?.prompt_tokens).toBe(3);
  });
});

describe("LM Studio error shapes", () => {
  it("no models loaded", async () => {
    const err = await apiError(openai.chat.completions.create({ model: GEMMA, messages: hi }));
    expect(err.status).toBe(400);
    expect(err.error).toEqual({
      message: "No models loaded. Please load a model in the developer page or use the 'lms load' command.",
      type: "invalid_request_error",
      param: "model",
      code: null,
    });
    expect(emu.chats[0]).toMatchObject({ outcome: "failed", status: 400, model: GEMMA });
    emu.configure({ statusCodes: { noModelsLoaded: 404 } });
    const err404 = await apiError(openai.chat.completions.create({ model: GEMMA, messages: hi }));
    expect(err404.status).toBe(404);
    expect(err404).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("invalid model identifier (model_not_found)", async () => {
    emu.preload(GEMMA);
    const err = await apiError(openai.chat.completions.create({ model: "o4-mini", messages: hi }));
    expect(err.status).toBe(400);
    expect(err.code).toBe("model_not_found");
    expect(err.param).toBe("model");
    expect((err.error as { message: string }).message).toBe(
      `Invalid model identifier "o4-mini". Please specify a valid downloaded model (e.g., ${GEMMA}).`,
    );
    // embedding models don't chat
    emu.preload(NOMIC);
    expect((await apiError(openai.chat.completions.create({ model: NOMIC, messages: hi }))).code).toBe(
      "model_not_found",
    );
    emu.configure({ statusCodes: { modelNotFound: 404 } });
    expect((await apiError(openai.chat.completions.create({ model: "o4-mini", messages: hi }))).status).toBe(
      404,
    );
  });

  it("images given to a model without vision", async () => {
    emu.preload(GEMMA);
    const err = await apiError(
      openai.chat.completions.create({
        model: GEMMA,
        messages: [
          {
            role: "user",
            content: [{ type: "image_url", image_url: { url: `data:image/png;base64,${PNG}` } }],
          },
        ],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.error).toBe("Model does not support images. Please use a model that does.");
  });

  it("malformed or non-base64 data URLs", async () => {
    emu.preload(VL);
    for (const url of [
      "https://example.com/cat.png",
      "data:image/png;base64,not base64!",
      "data:image/png,abcd",
      `data:text/plain;base64,${PNG}`,
    ]) {
      const err = await apiError(
        openai.chat.completions.create({
          model: VL,
          messages: [{ role: "user", content: [{ type: "image_url", image_url: { url } }] }],
        }),
      );
      expect(err.status).toBe(400);
      expect(err.error).toBe("'url' field must be a base64 encoded image.");
    }
    emu.configure({ statusCodes: { invalidImage: 422 } });
    const err = await apiError(
      openai.chat.completions.create({
        model: VL,
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }],
      }),
    );
    expect(err.status).toBe(422);
  });

  it("unknown path: HTTP 200 with an error", async () => {
    const res = await fetch(`${emu.httpUrl}/x`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      error: "Unexpected endpoint or method. (GET /x). Returning 200 anyway",
    });
    const res2 = await fetch(`${emu.openaiBaseUrl}/nope?a=1`, { method: "POST", body: "{}" });
    expect(await res2.json()).toEqual({
      error: "Unexpected endpoint or method. (POST /v1/nope). Returning 200 anyway",
    });
  });

  it("bad JSON: 400 with the parser's message", async () => {
    emu.preload(GEMMA);
    const res = await fetch(`${emu.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string };
    expect(typeof body.error).toBe("string");
    expect(body.error).toMatch(/^(Unexpected token|Expected property name)/);
    expect(emu.chats[0]).toMatchObject({ outcome: "failed", status: 400, body: "{not json" });
  });
});

describe("JIT", () => {
  it("loads a downloaded model on demand when on, and refuses when off", async () => {
    emu.preload(GEMMA);
    expect((await apiError(openai.chat.completions.create({ model: QWEN, messages: hi }))).code).toBe(
      "model_not_found",
    );
    expect(emu.loads).toEqual([]);
    emu.configure({ jit: true });
    const body = { model: QWEN, messages: hi, ttl: 60 };
    const res = await openai.chat.completions.create(body);
    expect(res.model).toBe(QWEN);
    expect(emu.loads).toMatchObject([
      { endpoint: "jit", modelKey: QWEN, identifier: QWEN, outcome: "loaded", ttlMs: 60_000 },
    ]);
    expect(emu.loaded().map((l) => l.identifier)).toEqual([GEMMA, QWEN]);
    // now loaded: no second load
    await openai.chat.completions.create({ model: QWEN, messages: hi });
    expect(emu.loads).toHaveLength(1);
    // unknown models are still refused
    expect((await apiError(openai.chat.completions.create({ model: "nope", messages: hi }))).code).toBe(
      "model_not_found",
    );
  });
});

describe("cancellation and faults", () => {
  it("stops generating when the client aborts a stream", async () => {
    emu.preload(GEMMA);
    emu.configure({ reply: Array.from({ length: 200 }, (_, i) => `w${i}`).join(" "), chunkDelayMs: 10 });
    const ac = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: GEMMA, messages: hi, stream: true },
      { signal: ac.signal },
    );
    let n = 0;
    // the openai client ends the iteration quietly (or throws) on abort, depending on timing
    await (async () => {
      for await (const _ of stream) {
        if (++n === 3) ac.abort();
      }
    })().catch(() => {});
    expect(n).toBe(3);
    const t0 = performance.now();
    await emu.waitFor(() => emu.chats[0]?.outcome === "cancelled", 100);
    expect(performance.now() - t0).toBeLessThan(100);
    const sent = emu.chats[0]?.chunksSent ?? 0;
    expect(sent).toBeLessThan(20);
    await sleep(50);
    expect(emu.chats[0]?.chunksSent).toBe(sent);
  });

  it("records a non-streaming request whose client went away as cancelled", async () => {
    emu.preload(GEMMA);
    emu.configure({ firstChunkDelayMs: 5000 });
    const err = await fetch(`${emu.openaiBaseUrl}/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: GEMMA, messages: hi }),
      signal: AbortSignal.timeout(100),
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    await emu.waitFor(() => emu.chats[0]?.outcome === "cancelled", 200);
  });

  it("failNextChat before any chunk", async () => {
    emu.preload(GEMMA);
    emu.failNextChat({});
    const err = await apiError(openai.chat.completions.create({ model: GEMMA, messages: hi }));
    expect(err.status).toBe(500);
    expect(err.error).toBe("Internal error");
    emu.failNextChat({ status: 503, body: { error: { message: "busy" } } });
    const err2 = await apiError(openai.chat.completions.create({ model: GEMMA, messages: hi, stream: true }));
    expect(err2.status).toBe(503);
    expect(err2.message).toContain("busy");
    // one-shot
    await openai.chat.completions.create({ model: GEMMA, messages: hi });
    expect(emu.chats.map((c) => c.outcome)).toEqual(["failed", "failed", "finished"]);
    expect(emu.chats.map((c) => c.status)).toEqual([500, 503, 200]);
  });

  it("failNextChat after N chunks: SSE error event, or a dropped socket", async () => {
    emu.preload(GEMMA);
    emu.configure({ reply: "a b c d e f g h" });
    emu.failNextChat({ afterChunks: 2, mode: "error", body: { error: { message: "model crashed" } } });
    const got: string[] = [];
    const stream = await openai.chat.completions.create({ model: GEMMA, messages: hi, stream: true });
    await expect(
      (async () => {
        for await (const c of stream) got.push(c.choices[0]?.delta.content ?? "");
      })(),
    ).rejects.toThrow("model crashed");
    expect(got).toEqual(["a", " b"]);
    expect(emu.chats[0]).toMatchObject({ outcome: "failed", chunksSent: 2 });

    emu.failNextChat({ afterChunks: 3, mode: "drop" });
    const got2: string[] = [];
    const stream2 = await openai.chat.completions.create({ model: GEMMA, messages: hi, stream: true });
    await expect(
      (async () => {
        for await (const c of stream2) got2.push(c.choices[0]?.delta.content ?? "");
      })(),
    ).rejects.toThrow();
    expect(got2).toEqual(["a", " b", " c"]);
    expect(emu.chats[1]).toMatchObject({ outcome: "failed", chunksSent: 3 });
  });

  it("hangNextChat sends nothing until the client goes away", async () => {
    emu.preload(GEMMA);
    emu.hangNextChat();
    const ac = new AbortController();
    const p = openai.chat.completions.create({ model: GEMMA, messages: hi }, { signal: ac.signal });
    p.catch(() => {});
    const raced = await Promise.race([p.then(() => "answered"), sleep(200).then(() => "pending")]);
    expect(raced).toBe("pending");
    ac.abort();
    await emu.waitFor(() => emu.chats[0]?.outcome === "cancelled", 200);
  });

  it("dropAllSockets fails running chats; restart keeps state on the same port", async () => {
    emu.preload(GEMMA);
    emu.configure({ reply: "a b c d e f g h", chunkDelayMs: 20 });
    const stream = await openai.chat.completions.create({ model: GEMMA, messages: hi, stream: true });
    const reading = (async () => {
      for await (const _ of stream) {
      }
    })();
    reading.catch(() => {});
    await emu.waitFor(() => (emu.chats[0]?.chunksSent ?? 0) >= 1);
    const port = emu.port;
    await emu.restart();
    await expect(reading).rejects.toThrow();
    expect(emu.chats[0]?.outcome).toBe("failed");
    expect(emu.port).toBe(port);
    emu.configure({ chunkDelayMs: 0 });
    const res = await openai.chat.completions.create({ model: GEMMA, messages: hi });
    expect(res.choices[0]?.message.content).toBe("a b c d e f g h");
  });
});
