import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectNoLeak, expectNoWarnings } from "../api/helpers.ts";
import { PNG_1x1, postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";

describe("API keys", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { API_KEYS: "key-one, key-two" } });
  });
  beforeEach(() => stack.emu.reset({ preload: [MODEL] }));
  afterEach(() => expectNoWarnings(stack.emu));
  afterAll(async () => {
    await stack.close();
  });

  it("keeps the documentation public: a page that needs a key to explain keys helps nobody", async () => {
    for (const path of ["/help", "/openapi.json", "/docs", "/health"]) {
      const r = await fetch(`${stack.url}${path}`, { redirect: "manual" });
      expect(r.status, path).toBeLessThan(400);
    }
    const doc = await (await fetch(`${stack.url}/openapi.json`)).json();
    expect(doc.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
  });

  it("refuses requests without a key: 401 with WWW-Authenticate, nothing reaches LM Studio", async () => {
    for (const path of ["/models", "/models/available"]) {
      const r = await fetch(`${stack.url}${path}`);
      expect(r.status, path).toBe(401);
      expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    const chat = await postJson(`${stack.url}/chat/regular`, { messages: [{ role: "user", content: "x" }] });
    expect(chat.status).toBe(401);
    expect(chat.json.detail).toMatch(/Authorization: Bearer/);
    const wrong = await postJson(
      `${stack.url}/chat/regular`,
      { messages: [{ role: "user", content: "x" }] },
      { authorization: "Bearer key-three" },
    );
    expect(wrong.status).toBe(401);
    const prefix = await fetch(`${stack.url}/models`, { headers: { authorization: "Bearer key-on" } });
    expect(prefix.status).toBe(401);
    expect(stack.emu.chats).toHaveLength(0);
  });

  it("accepts every configured key, and /health needs none", async () => {
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
    for (const key of ["key-one", "key-two"]) {
      const r = await postJson(
        `${stack.url}/chat/regular`,
        { messages: [{ role: "user", content: "x" }] },
        { authorization: `Bearer ${key}` },
      );
      expect(r.status).toBe(200);
    }
  });

  it("accepts the key as x-api-key too (Anthropic's clients), and never forwards it", async () => {
    const ok = await fetch(`${stack.url}/models`, { headers: { "x-api-key": "key-two" } });
    expect(ok.status).toBe(200);
    const wrong = await fetch(`${stack.url}/models`, { headers: { "x-api-key": "key-three" } });
    expect(wrong.status).toBe(401);
  });

  it("never logs the key, image data or message content", async () => {
    const secretText = "my-very-private-message-7731";
    await postJson(
      `${stack.url}/chat/vision`,
      {
        model_key: "qwen3-vl-4b-instruct",
        messages: [
          { role: "user", content: secretText, images: [{ data_base64: PNG_1x1, mime_type: "image/png" }] },
        ],
      },
      { authorization: "Bearer key-one" },
    );
    await postJson(
      `${stack.url}/chat/regular`,
      { messages: [{ role: "user", content: secretText }] },
      {
        authorization: "Bearer key-wrong-secret",
      },
    );
    const all = stack.logs.join("\n");
    expect(stack.logs.length).toBeGreaterThan(0);
    expect(all).not.toContain("key-one");
    expect(all).not.toContain("key-wrong-secret");
    expect(all).not.toContain(secretText);
    expect(all).not.toContain(PNG_1x1.slice(0, 24));
  });
});

describe("CORS", () => {
  it("with a list: allows only those origins, with credentials; preflights answered", async () => {
    const stack = await startStack({ env: { CORS_ORIGINS: "http://app.example,http://other.example" } });
    try {
      const pre = await fetch(`${stack.url}/chat`, {
        method: "OPTIONS",
        headers: {
          origin: "http://app.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type,authorization",
        },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get("access-control-allow-origin")).toBe("http://app.example");
      expect(pre.headers.get("access-control-allow-credentials")).toBe("true");
      expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
      const evil = await fetch(`${stack.url}/chat`, {
        method: "OPTIONS",
        headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
      });
      expect(evil.headers.get("access-control-allow-origin")).toBeNull();
      const get = await fetch(`${stack.url}/health`, { headers: { origin: "http://other.example" } });
      expect(get.headers.get("access-control-allow-origin")).toBe("http://other.example");
    } finally {
      await stack.close();
    }
  });

  it('with "*": any origin, never with credentials', async () => {
    const stack = await startStack();
    try {
      const pre = await fetch(`${stack.url}/chat`, {
        method: "OPTIONS",
        headers: { origin: "http://anything.example", "access-control-request-method": "POST" },
      });
      expect(pre.headers.get("access-control-allow-origin")).toBe("*");
      expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
    } finally {
      await stack.close();
    }
  });
});

describe("what a response never contains", () => {
  /** LM Studio's text with a stack frame: flattened onto one line, and as a multi-line stack. */
  const TRACES = [
    "Error: boom at Foo (/secret/path/file.js:1:1)",
    "Error: boom\n    at Foo (/secret/path/file.js:1:1)",
  ];
  /** Nothing of that text reaches the client: not the message, the frame or the path. */
  const expectNoUpstreamTrace = (text: string) => {
    expectNoLeak(text);
    expect(text).not.toContain("boom");
    expect(text).not.toContain("/secret/path");
    expect(text).not.toContain("Foo (");
  };
  /** A load failure's message is reported ("Failed to load model: ..."), its frame and path never. */
  const expectNoFrame = (text: string) => {
    expectNoLeak(text);
    expect(text).not.toContain("/secret/path");
    expect(text).not.toContain("Foo (");
  };
  const messages = [{ role: "user", content: "x" }];

  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  beforeEach(() => stack.emu.reset({ preload: [MODEL] }));
  afterEach(() => expectNoWarnings(stack.emu));
  afterAll(async () => {
    await stack.close();
  });

  it.each(TRACES)("a chat LM Studio fails with %j: a 502 without its text", async (trace) => {
    stack.emu.failNextChat({ status: 500, body: { error: trace } });
    const r = await postJson(`${stack.url}/chat/regular`, { messages });
    expect(r.status).toBe(502);
    expect(typeof r.json.detail).toBe("string");
    expectNoUpstreamTrace(r.text);
  });

  it.each(TRACES)("a stream LM Studio fails before the first token with %j: no text of it", async (trace) => {
    stack.emu.failNextChat({ status: 500, body: { error: trace } });
    const r = await postJson(`${stack.url}/chat/regular/stream`, { messages });
    expect(r.status).toBeGreaterThanOrEqual(500);
    expectNoUpstreamTrace(r.text);
  });

  it.each(TRACES)(
    "a stream LM Studio fails mid-answer with %j: an error line without its text",
    async (trace) => {
      stack.emu.failNextChat({ afterChunks: 2, body: { error: { message: trace } } });
      const r = await postNdjson(`${stack.url}/chat/regular/stream`, { messages });
      expect(r.status).toBe(200);
      expect(r.lines.at(-1).type).toBe("error");
      expectNoUpstreamTrace(r.text);
    },
  );

  it.each(TRACES)("a load LM Studio fails with %j: the failure body carries no frame", async (trace) => {
    stack.emu.reset();
    stack.emu.failNextLoad({ message: trace });
    const r = await postJson(`${stack.url}/models/load`, { model_key: MODEL });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.json).toMatchObject({ loaded: false, error: expect.stringMatching(/^Failed to load model: /) });
    expectNoFrame(r.text);
  });

  it.each(TRACES)(
    "a streamed load LM Studio fails with %j: the error line carries no frame",
    async (trace) => {
      stack.emu.reset();
      stack.emu.failNextLoad({ message: trace, atProgress: 0.5 });
      const r = await postNdjson(`${stack.url}/models/load/stream`, { model_key: MODEL });
      expect(r.lines.at(-1).type).toBe("error");
      expectNoFrame(r.text);
    },
  );

  it.each(TRACES)(
    "an on-demand load in a chat stream fails with %j: the error line carries no frame",
    async (trace) => {
      stack.emu.reset();
      stack.emu.failNextLoad({ message: trace, atProgress: 0.5 });
      const r = await postNdjson(`${stack.url}/chat/stream`, { model_key: MODEL, messages });
      expect(r.lines.at(-1).type).toBe("error");
      expect(stack.emu.loads.at(-1)?.outcome).toBe("failed");
      expectNoFrame(r.text);
    },
  );

  it("a body that is not JSON: a 400 without the parser's internals", async () => {
    const bad = await fetch(`${stack.url}/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expectNoLeak(await bad.text());
  });
});
