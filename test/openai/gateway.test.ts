/**
 * /v1 as a pass-through: the bytes that reach LM Studio are the client's (only `model` differs),
 * the bytes that reach the client are LM Studio's; and the guarantees /chat has (on-demand loading,
 * admission, timeouts, keys, errors a client's SDK understands).
 */
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { PNG_1x1, readResponse, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";

/** A recording HTTP proxy in front of the emulator: what the emulator answered, byte for byte. */
async function recordingProxy(target: string) {
  const answers: Buffer[] = [];
  const server: Server = createServer((req, res) => {
    const upstream = httpRequest(
      `${target}${req.url}`,
      { method: req.method, headers: req.headers },
      (up) => {
        const chunks: Buffer[] = [];
        answers.push(Buffer.alloc(0));
        const i = answers.length - 1;
        up.on("data", (c: Buffer) => {
          chunks.push(c);
          answers[i] = Buffer.concat(chunks);
        });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    req.pipe(upstream);
    res.on("close", () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, answers, close: () => new Promise((r) => server.close(r)) };
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return readResponse(res);
}

describe("pass-through", () => {
  let emu: LmStudioEmulator;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let stack: Stack;
  let openai: OpenAI;

  beforeAll(async () => {
    emu = await LmStudioEmulator.start();
    proxy = await recordingProxy(emu.openaiBaseUrl.replace(/\/v1$/, ""));
    stack = await startStack({
      emu,
      env: {
        OPENAI_BASE_URL: `${proxy.url}/v1`,
        LMSTUDIO_BASE_URL: emu.wsUrl,
        MODEL_ALIASES: `gpt-4o-mini=${MODEL}`,
      },
    });
    openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  afterAll(async () => {
    expect(emu.warnings).toEqual([]);
    await stack.close();
    await proxy.close();
    await emu.stop();
  });
  beforeEach(() => {
    emu.reset({ preload: [MODEL], loadTimeMs: 200, loadSteps: 4 });
    proxy.answers.length = 0;
  });

  const last = () => emu.chats.at(-1);

  it("the body reaches LM Studio byte for byte, only the model replaced (alias → key)", async () => {
    const sent =
      '{\n  "stream" : false,\n  "model" : "gpt-4o-mini",\n  "messages":[{"role":"user","content":"h\\u00e9 ☃ \\"x\\""}],' +
      '"logprobs":true,"top_logprobs":2,"seed":42,"stop":["\\n\\n"],"n":1,"response_format":{"type":"text"},' +
      '"x_unknown":{"a":[1,2.50,null]} }';
    const r = await post(`${stack.url}/v1/chat/completions`, sent);
    expect(r.status).toBe(200);
    expect(last()?.rawBody.toString()).toBe(sent.replace('"gpt-4o-mini"', `"${MODEL}"`));
    // The answer is the emulator's, byte for byte.
    expect(r.text).toBe(proxy.answers.at(-1)?.toString());
  });

  it("a body of megabytes reaches LM Studio byte for byte too (kept as it arrived, never re-encoded)", async () => {
    // Long strings are kept out of the parse (src/http/json-skeleton.ts): escapes, non-ASCII text
    // and chunk boundaries anywhere in them must still come out unchanged.
    const long = "iVBORw0KGgo+/=".repeat(200_000);
    const sent =
      `{"messages":[{"role":"user","content":[{"type":"text","text":"${long}\\u00e9\\n"},` +
      `{"type":"text","text":"é ${long} ☃"}]}],"model":"gpt-4o-mini","max_tokens":3}`;
    const r = await post(`${stack.url}/v1/chat/completions`, sent);
    expect(r.status).toBe(200);
    const raw = last()?.rawBody as Buffer;
    expect(raw.length).toBeGreaterThan(5_000_000);
    expect(raw.equals(Buffer.from(sent.replace('"gpt-4o-mini"', `"${MODEL}"`)))).toBe(true);
  });

  it("bodies of megabytes read into reused memory never mix: three at once, then two more, each arrives as sent", async () => {
    // The service lends big bodies buffers it reuses (src/http/body-buffers.ts): two at once, a
    // third keeps its chunks. A buffer lent again too early would overwrite a body still in use.
    const sent = Array.from({ length: 5 }, (_, i) => {
      const long = `${"ABCDEFGHIJKLMNOPQRSTUVWXYZ".slice(i)}${i}+/`.repeat(250_000 + i * 1_000);
      return `{"model":"gpt-4o-mini","max_tokens":${i + 1},"messages":[{"role":"user","content":"${long}"}]}`;
    });
    const expected = sent.map((s) => s.replace('"gpt-4o-mini"', `"${MODEL}"`));
    const first = await Promise.all(sent.slice(0, 3).map((s) => post(`${stack.url}/v1/chat/completions`, s)));
    for (const s of sent.slice(3)) first.push(await post(`${stack.url}/v1/chat/completions`, s));
    expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const received = emu.chats.map((c) => c.rawBody.toString()).sort();
    expect(received.length).toBe(5);
    expect(received).toEqual([...expected].sort());
  });

  it("the SSE bytes the client receives are the emulator's", async () => {
    const sent = JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: "stream" }],
      stream: true,
    });
    const r = await post(`${stack.url}/v1/chat/completions`, sent);
    expect(r.headers.get("content-type")).toContain("text/event-stream");
    expect(r.text).toMatch(/^data: /);
    expect(r.text).toContain("data: [DONE]");
    expect(Buffer.from(r.text).equals(proxy.answers.at(-1) as Buffer)).toBe(true);
    expect(last()?.rawBody.toString()).toBe(sent);
  });

  it("Anthropic's /v1/messages passes through, plain and streamed", async () => {
    const body = { model: MODEL, max_tokens: 50, messages: [{ role: "user", content: "hi" }] };
    const r = await post(`${stack.url}/v1/messages`, JSON.stringify(body), {
      "anthropic-version": "2023-06-01",
    });
    expect(r.status).toBe(200);
    expect(r.json.content[0].text).toBe(`Hello from ${MODEL}! You said: hi`);
    const s = await post(`${stack.url}/v1/messages`, JSON.stringify({ ...body, stream: true }));
    expect(s.text).toContain("event: message_stop");
    expect(s.text).toBe(proxy.answers.at(-1)?.toString());
  });

  it("/v1/completions passes through", async () => {
    const r = await openai.completions.create({ model: MODEL, prompt: "Once upon", max_tokens: 3 });
    expect(r.choices[0]?.finish_reason).toBe("length");
  });

  it("a missing model is the default one; with images, the vision default", async () => {
    await post(`${stack.url}/v1/chat/completions`, '{"messages":[{"role":"user","content":"hi"}]}');
    expect(last()?.rawBody.toString()).toBe(
      `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}]}`,
    );
    const image = { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1x1}` } };
    const r = await post(
      `${stack.url}/v1/chat/completions`,
      JSON.stringify({ messages: [{ role: "user", content: [{ type: "text", text: "what?" }, image] }] }),
    );
    expect(r.status).toBe(200);
    expect(last()?.model).toBe(stack.config.defaultVisionModel);
  });

  it("models: loaded, downloaded and aliases, in OpenAI's shape", async () => {
    const r = await fetch(`${stack.url}/v1/models`).then(readResponse);
    expect(r.json.object).toBe("list");
    const ids = r.json.data.map((m: { id: string }) => m.id);
    expect(ids).toEqual(expect.arrayContaining([MODEL, "gpt-4o-mini", "google/gemma-3-1b"]));
    for (const m of r.json.data) {
      expect(m).toEqual({
        id: expect.any(String),
        object: "model",
        created: expect.any(Number),
        owned_by: expect.any(String),
      });
    }
  });

  it("a model loads once for all the requests waiting; streams get `: loading` comments meanwhile", async () => {
    emu.reset({ loadTimeMs: 300, loadSteps: 4 });
    const body = JSON.stringify({
      model: "google/gemma-3-1b",
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => post(`${stack.url}/v1/chat/completions`, body)),
    );
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.text).toMatch(/^: loading \d+%\n\n/);
      expect(a.text).toContain("data: [DONE]");
    }
    expect(emu.loads.filter((l) => l.outcome === "loaded")).toHaveLength(1);
    expect(emu.loads.filter((l) => l.endpoint === "jit")).toHaveLength(0);
  });

  it("a model that is not downloaded: the SDK's NotFoundError, code model_not_found, close matches", async () => {
    const error = await openai.chat.completions
      .create({ model: "qwen/qwen3-4b", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    const e = error as InstanceType<typeof OpenAI.NotFoundError>;
    expect(e.code).toBe("model_not_found");
    expect(e.param).toBe("model");
    expect(e.message).toMatch(/did you mean "qwen\/qwen3-4b-2507"/);
    expect(e.message).toContain("GET /v1/models");
    expect(emu.chats).toHaveLength(0);
  });

  it("an upstream failure it does not recognise is reworded: none of LM Studio's text reaches the client", async () => {
    emu.failNextChat({
      status: 500,
      body: { error: "ggml_cuda_op_mul_mat: /Users/ci/llama.cpp/ggml.c:1234" },
    });
    const error = await openai.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    const e = error as InstanceType<typeof OpenAI.APIError>;
    expect(e.status).toBe(502);
    expect(e.type).toBe("server_error");
    expect(e.message).not.toMatch(/ggml|Users|llama/);
    expect(stack.logs.some((l) => l.includes("ggml_cuda_op_mul_mat"))).toBe(true);
  });

  it("a recognised upstream error keeps its meaning: images sent to a text model", async () => {
    const image = { type: "image_url" as const, image_url: { url: `data:image/png;base64,${PNG_1x1}` } };
    const error = await openai.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: [image] }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("images_not_supported");
  });

  it("errors on /v1 are OpenAI's shape: unknown path, wrong method, invalid body", async () => {
    const notFound = await fetch(`${stack.url}/v1/nothing`).then(readResponse);
    expect(notFound.status).toBe(404);
    expect(notFound.json).toEqual({
      error: {
        message: "Invalid URL (GET /v1/nothing)",
        type: "invalid_request_error",
        param: null,
        code: "unknown_url",
      },
    });
    const wrongMethod = await fetch(`${stack.url}/v1/chat/completions`).then(readResponse);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.json.error.code).toBe("method_not_allowed");
    const bad = await post(`${stack.url}/v1/chat/completions`, '{"model":42,"messages":[]}');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ type: "invalid_request_error", param: "model" });
    const anthropic = await post(`${stack.url}/v1/messages`, '{"messages":"no"}');
    expect(anthropic.status).toBe(400);
    expect(anthropic.json).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
  });

  it("OpenAPI documents every /v1 endpoint under the openai tag", async () => {
    const doc = await fetch(`${stack.url}/openapi.json`).then(readResponse);
    for (const [method, path] of [
      ["get", "/v1/models"],
      ["post", "/v1/chat/completions"],
      ["post", "/v1/completions"],
      ["post", "/v1/embeddings"],
      ["post", "/v1/responses"],
      ["post", "/v1/messages"],
    ] as const) {
      const op = doc.json.paths[path]?.[method];
      expect(op?.tags, path).toEqual(["openai"]);
      expect(op?.summary.length).toBeGreaterThan(10);
    }
  });

  it("CORS headers are on /v1 answers, streamed ones included", async () => {
    const res = await fetch(`${stack.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://example.test" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], stream: true }),
    });
    await res.text();
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("server-timing")).toMatch(/overhead;dur=/);
  });
});

describe("keys, admission and timeouts", () => {
  const KEY = "sk-test-key";
  let stack: Stack;
  let openai: OpenAI;
  beforeAll(async () => {
    stack = await startStack({
      env: {
        API_KEYS: KEY,
        MAX_CONCURRENT_CHATS: "1",
        MAX_QUEUED_CHATS: "0",
        FIRST_TOKEN_TIMEOUT_MS: "300",
        CHUNK_TIMEOUT_MS: "200",
      },
    });
    openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    expect(stack.emu.warnings).toEqual([]);
    await stack.close();
  });
  beforeEach(() => {
    stack.emu.reset({ preload: [MODEL] });
  });
  const messages = [{ role: "user" as const, content: "hi" }];

  it("a wrong key: the SDK's AuthenticationError, code invalid_api_key; the redacted key is not logged", async () => {
    const wrong = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "sk-wrong", maxRetries: 0 });
    const error = await wrong.chat.completions.create({ model: MODEL, messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("invalid_api_key");
    const list = await wrong.models.list().catch((e: unknown) => e);
    expect(list).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(stack.logs.some((l) => l.includes("sk-wrong"))).toBe(false);
    const ok = await openai.chat.completions.create({ model: MODEL, messages });
    expect(ok.choices[0]?.message.content).toContain("Hello");
    // Our key is not LM Studio's: the upstream gets the configured one.
    expect(stack.emu.chats.at(-1)?.authorization).toBe(`Bearer ${stack.config.openaiApiKey}`);
  });

  it("no free slot: the SDK's RateLimitError with Retry-After", async () => {
    stack.emu.hangNextChat();
    const controller = new AbortController();
    const hanging = openai.chat.completions
      .create({ model: MODEL, messages }, { signal: controller.signal })
      .catch(() => undefined);
    await stack.emu.waitFor(() => stack.emu.chats.length === 1);
    const error = await openai.chat.completions.create({ model: MODEL, messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const e = error as InstanceType<typeof OpenAI.APIError>;
    expect(e.code).toBe("rate_limit_exceeded");
    expect(e.headers?.get("retry-after")).toBe("1");
    controller.abort();
    await hanging;
  });

  it("no first byte in time: 504, and the upstream request is cancelled", async () => {
    stack.emu.hangNextChat();
    const error = await openai.chat.completions.create({ model: MODEL, messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("upstream_timeout");
    await stack.emu.waitFor(() => stack.emu.chats.at(-1)?.outcome === "cancelled");
  });

  it("silence mid-stream: one `event: error` frame the SDK raises, and the generation is cancelled", async () => {
    stack.emu.configure({ chunkDelayMs: 1_000, reply: "a b c" });
    const stream = await openai.chat.completions.create({ model: MODEL, messages, stream: true });
    const error = await (async () => {
      for await (const _ of stream) {
        // reading until it fails
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toMatch(/next chunk/);
    await stack.emu.waitFor(() => stack.emu.chats.at(-1)?.outcome === "cancelled");
  });
});
