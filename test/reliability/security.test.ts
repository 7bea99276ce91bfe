import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PNG_1x1, postJson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";

describe("API keys", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { API_KEYS: "key-one, key-two" }, emulator: { preload: [MODEL] } });
  });
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
  it("no stack traces or internal paths, even for internal failures", async () => {
    const stack = await startStack({ emulator: { preload: [MODEL] } });
    try {
      stack.emu.failNextChat({
        status: 500,
        body: { error: "Error: boom\n    at Foo (/secret/path/file.js:1:1)" },
      });
      const r = await postJson(`${stack.url}/chat/regular`, { messages: [{ role: "user", content: "x" }] });
      expect(r.status).toBe(502);
      expect(r.text).not.toMatch(/\n\s+at |node_modules|\/work\//);
      const bad = await fetch(`${stack.url}/chat`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{not json",
      });
      expect(bad.status).toBe(400);
      expect(await bad.text()).not.toMatch(/\n\s+at |node_modules|\/work\//);
    } finally {
      await stack.close();
    }
  });
});
