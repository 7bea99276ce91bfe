/**
 * Request ids: a client's well-formed X-Request-Id (or a generated one) comes back on every answer,
 * is on the request's log lines and in its error bodies, and reaches LM Studio with the chat.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { eventually } from "../helpers/metrics.ts";
import { postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

const QWEN = "qwen/qwen3-4b-2507";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const user = (content: string) => [{ role: "user", content }];

let stack: Stack;
let keyed: Stack;

beforeAll(async () => {
  stack = await startStack();
  keyed = await startStack({ env: { API_KEYS: "secret-key" } });
});
afterAll(async () => {
  await stack.close();
  await keyed.close();
});
beforeEach(() => {
  stack.emu.reset({ preload: [QWEN] });
});

// biome-ignore lint/suspicious/noExplicitAny: log lines are arbitrary JSON
const logLines = (s: Stack, id: string): any[] =>
  s.logs.map((l) => JSON.parse(l)).filter((l) => l.reqId === id);
const accessLine = (s: Stack, id: string) =>
  eventually(async () => {
    const line = logLines(s, id).find((l) => l.msg === "request");
    expect(line).toBeDefined();
    return line;
  });

describe("X-Request-Id", () => {
  it("a client's id comes back, is on the access line (with model and tokens) and reaches LM Studio", async () => {
    const id = "client-7f3a.42";
    const r = await postJson(
      `${stack.url}/chat/regular`,
      { messages: user("hi there") },
      { "x-request-id": id },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get("x-request-id")).toBe(id);
    expect(stack.emu.chats.map((c) => c.requestId)).toEqual([id]);
    const line = await accessLine(stack, id);
    expect(line).toMatchObject({
      method: "POST",
      route: "/chat/regular",
      status: 200,
      model: QWEN,
      outcome: "ok",
      prompt_tokens: r.json.prompt_tokens,
      completion_tokens: r.json.predicted_tokens,
    });
    expect(typeof line.ms).toBe("number");
  });

  it("an error body carries it as request_id, and so does the log line about the failure", async () => {
    const id = "err-id-1";
    stack.emu.failNextChat({ status: 500, body: { error: "GPU on fire" } });
    const r = await postJson(`${stack.url}/chat/regular`, { messages: user("hi") }, { "x-request-id": id });
    expect(r.status).toBe(502);
    expect(r.headers.get("x-request-id")).toBe(id);
    expect(r.json.request_id).toBe(id);
    expect(stack.emu.chats[0]?.requestId).toBe(id);
    const lines = logLines(stack, id);
    // The upstream's own text is only in our log, under the request's id.
    expect(lines.some((l) => l.level === 40 && l.upstream?.includes("GPU on fire"))).toBe(true);
    expect((await accessLine(stack, id)).outcome).toBe("upstream_error");
  });

  it("validation errors, 404s, load failures and stream errors carry it too", async () => {
    const h = (id: string) => ({ "x-request-id": id });
    const invalid = await postJson(`${stack.url}/chat`, { messages: [] }, h("v-1"));
    expect(invalid.status).toBe(422);
    expect(invalid.json.request_id).toBe("v-1");
    const missing = await fetch(`${stack.url}/nope`, { headers: h("nf-1") });
    expect(missing.status).toBe(404);
    expect((await missing.json()).request_id).toBe("nf-1");
    const load = await postJson(`${stack.url}/models/load`, { model_key: "no-such-model" }, h("l-1"));
    expect(load.status).toBe(404);
    expect(load.json).toMatchObject({ loaded: false, request_id: "l-1" });
    stack.emu.failNextChat({ status: 500, afterChunks: 1 });
    const stream = await postNdjson(
      `${stack.url}/chat/regular/stream`,
      { messages: user("a b c") },
      h("s-1"),
    );
    expect(stream.headers.get("x-request-id")).toBe("s-1");
    expect(stream.lines.at(-1)).toMatchObject({ type: "error", error: { request_id: "s-1" } });
  });

  it("refusals by the cross-cutting hooks (401) carry it", async () => {
    const r = await postJson(`${keyed.url}/chat`, { messages: user("hi") }, { "x-request-id": "auth-1" });
    expect(r.status).toBe(401);
    expect(r.headers.get("x-request-id")).toBe("auth-1");
    expect(r.json.request_id).toBe("auth-1");
  });

  it("without one, or with a malformed one, the service makes one up (a UUID)", async () => {
    const none = await fetch(`${stack.url}/health`);
    expect(none.headers.get("x-request-id")).toMatch(UUID);
    for (const bad of ["has spaces in it", "x".repeat(129), "semi;colon", 'quote"d']) {
      const r = await fetch(`${stack.url}/health`, { headers: { "x-request-id": bad } });
      expect(r.headers.get("x-request-id")).toMatch(UUID);
    }
    const r = await postJson(`${stack.url}/chat/regular`, { messages: user("hi") });
    const id = r.headers.get("x-request-id") ?? "";
    expect(id).toMatch(UUID);
    expect(stack.emu.chats[0]?.requestId).toBe(id);
  });

  it("is exposed to browsers (CORS)", async () => {
    const r = await fetch(`${stack.url}/health`, { headers: { origin: "http://app.example" } });
    expect(r.headers.get("access-control-expose-headers")).toContain("x-request-id");
  });
});
