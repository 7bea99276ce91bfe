import http from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { splitTokens } from "../emulator/text.ts";
import { PNG_1x1, postJson, type Stack, startStack } from "../helpers/stack.ts";
import {
  arrivalOf,
  expectNoLeak,
  expectNoWarnings,
  type Json,
  parseNdjsonStrict,
  postRaw,
} from "./helpers.ts";

const REGULAR = "qwen/qwen3-4b-2507";
const VISION = "qwen3-vl-4b-instruct";
const STREAMS = ["/chat/stream", "/chat/regular/stream", "/chat/vision/stream"] as const;
const REPLY = "The quick brown fox jumps over the lazy dog, twice: quick, brown!";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
beforeEach(() => {
  stack.emu.reset({ preload: [REGULAR, VISION], reply: REPLY });
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});

const messages = [{ role: "user", content: "Tell me about foxes" }];

describe("NDJSON framing, byte by byte", () => {
  it.each(STREAMS)("%s: one object per line, fragments then exactly one done line", async (path) => {
    const r = await postRaw(`${stack.url}${path}`, { messages });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const lines = parseNdjsonStrict(r.text);
    const done = lines.at(-1);
    expect(done.type).toBe("done");
    expect(lines.filter((l) => l.type === "done")).toHaveLength(1);
    const fragments = lines.slice(0, -1);
    expect(fragments.length).toBeGreaterThan(1);
    for (const f of fragments) {
      expect(Object.keys(f).sort()).toEqual(["content", "type"]);
      expect(f.type).toBe("fragment");
      expect(typeof f.content).toBe("string");
    }
    expect(fragments.map((f) => f.content).join("")).toBe(REPLY);
    expect(done).toMatchObject({
      type: "done",
      model: path.includes("vision") ? VISION : REGULAR,
      predicted_tokens: splitTokens(REPLY).length,
      stop_reason: "stop",
    });
    // The raw bytes: no blank lines, no carriage returns, no trailing garbage after the last "\n".
    expect(r.text).not.toMatch(/\n\n/);
    expect(r.text.startsWith("{")).toBe(true);
  });

  it.each(STREAMS)("%s: the fragments concatenate to the non-streamed content", async (path) => {
    const streamed = await postRaw(`${stack.url}${path}`, { messages });
    const plain = await postJson(`${stack.url}${path.replace(/\/stream$/, "")}`, { messages });
    expect(plain.status).toBe(200);
    const lines = parseNdjsonStrict(streamed.text);
    const content = lines
      .filter((l) => l.type === "fragment")
      .map((l) => l.content)
      .join("");
    expect(content).toBe(plain.json.content);
    const done = lines.at(-1);
    expect(done.predicted_tokens).toBe(plain.json.predicted_tokens);
    expect(done.stop_reason).toBe(plain.json.stop_reason);
    expect(done.model).toBe(plain.json.model);
  });

  it("escapes newlines inside content so each line stays one JSON object", async () => {
    const reply = 'line one\nline two\r\n\n"quoted"\t{not json}\u2028sep';
    stack.emu.configure({ reply });
    const r = await postRaw(`${stack.url}/chat/stream`, { messages });
    const lines = parseNdjsonStrict(r.text);
    expect(
      lines
        .filter((l) => l.type === "fragment")
        .map((l) => l.content)
        .join(""),
    ).toBe(reply);
    expect(lines.at(-1).type).toBe("done");
  });

  it("reads the same over a plain node:http client", async () => {
    const url = new URL(`${stack.url}/chat/stream`);
    const payload = JSON.stringify({ messages });
    const { statusCode, headers, body } = await new Promise<{
      statusCode: number | undefined;
      headers: http.IncomingHttpHeaders;
      body: Buffer;
    }>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () =>
            resolve({ statusCode: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
    expect(statusCode).toBe(200);
    expect(headers["content-type"]).toMatch(/^application\/x-ndjson/);
    expect(body.at(-1)).toBe(0x0a);
    const lines = parseNdjsonStrict(body.toString("utf8"));
    expect(lines.at(-1)).toMatchObject({ type: "done", stop_reason: "stop" });
  });

  it('stop_reason "length" and exact predicted_tokens when maxTokens cuts the stream', async () => {
    const r = await postRaw(`${stack.url}/chat/regular/stream`, { messages, config: { maxTokens: 4 } });
    const lines = parseNdjsonStrict(r.text);
    expect(lines.at(-1)).toMatchObject({ type: "done", predicted_tokens: 4, stop_reason: "length" });
    expect(
      lines
        .filter((l) => l.type === "fragment")
        .map((l) => l.content)
        .join(""),
    ).toBe(splitTokens(REPLY).slice(0, 4).join(""));
  });
});

describe("upstream request", () => {
  it.each(STREAMS)("%s asks LM Studio to stream and to include usage", async (path) => {
    const r = await postRaw(`${stack.url}${path}`, { messages });
    expect(r.status).toBe(200);
    expect(stack.emu.chats).toHaveLength(1);
    const body = stack.emu.chats[0]?.body;
    expect(body.stream).toBe(true);
    expect(body.stream_options).toMatchObject({ include_usage: true });
    expect(stack.emu.chats[0]?.outcome).toBe("finished");
  });
});

describe("flushing", () => {
  it("each fragment reaches the client as soon as LM Studio sends it", async () => {
    const reply = "a b c d e f g h i j k l m n o p";
    const n = splitTokens(reply).length;
    stack.emu.configure({ chunkDelayMs: 50, reply });
    const r = await postRaw(`${stack.url}/chat/stream`, { messages });
    expect(r.status).toBe(200);
    const lines = parseNdjsonStrict(r.text);
    const fragments = lines.filter((l) => l.type === "fragment");
    expect(fragments).toHaveLength(n);
    // n upstream chunks 50 ms apart: the stream lasts (n - 1) * 50 ms at least.
    const span = (n - 1) * 50;
    expect(r.ended).toBeGreaterThan(span);
    const first = arrivalOf(r.chunks, '"type":"fragment"');
    const done = arrivalOf(r.chunks, '"type":"done"');
    expect(first).toBeDefined();
    expect(done).toBeDefined();
    expect(first as number).toBeLessThan((done as number) - span * 0.8);
    // Not one big buffered write: the body came in many network reads, spread over time.
    expect(r.chunks.length).toBeGreaterThanOrEqual(n / 2);
    const middle = arrivalOf(
      r.chunks,
      JSON.stringify({ type: "fragment", content: fragments[Math.floor(n / 2)].content }),
    );
    expect(middle as number).toBeLessThan((done as number) - span * 0.3);
    expect(middle as number).toBeGreaterThan((first as number) + span * 0.3);
  });
});

describe("failure after the stream started", () => {
  it.each(["error", "drop"] as const)("mode %s ends the stream with exactly one error line", async (mode) => {
    stack.emu.failNextChat({ afterChunks: 2, mode });
    const r = await postRaw(`${stack.url}/chat/stream`, { messages });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const lines = parseNdjsonStrict(r.text);
    const last = lines.at(-1);
    expect(last.type).toBe("error");
    expect(Object.keys(last).sort()).toEqual(["error", "type"]);
    expect(typeof last.error.code).toBe("string");
    expect(last.error.code.length).toBeGreaterThan(0);
    expect(typeof last.error.message).toBe("string");
    expect(last.error.message.length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.type === "error")).toHaveLength(1);
    expect(lines.filter((l) => l.type === "done")).toHaveLength(0);
    const fragments = lines.slice(0, -1);
    expect(fragments.every((l) => l.type === "fragment")).toBe(true);
    expect(fragments.map((f) => f.content).join("")).toBe(splitTokens(REPLY).slice(0, 2).join(""));
    expect(stack.emu.chats.at(-1)?.outcome).toBe("failed");
    expectNoLeak(r.text);

    // The service is fine afterwards.
    const next = await postRaw(`${stack.url}/chat/stream`, { messages });
    expect(parseNdjsonStrict(next.text).at(-1).type).toBe("done");
  });

  it("a failure before the first fragment is a real HTTP error, not a 200 stream", async () => {
    stack.emu.failNextChat({ status: 500, body: { error: "GPU on fire" } });
    const r = await postRaw(`${stack.url}/chat/stream`, { messages });
    expect(r.status).toBeGreaterThanOrEqual(500);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    const body: Json = JSON.parse(r.text);
    expect(typeof body.detail).toBe("string");
    expectNoLeak(r.text);
  });
});

describe("client going away", () => {
  it("cancels the generation upstream", async () => {
    stack.emu.configure({ chunkDelayMs: 40, reply: "a b c d e f g h i j k l m n o p q r s t" });
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/chat/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages }),
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    const first = await reader?.read();
    expect(Buffer.from(first?.value ?? []).toString()).toContain('"type":"fragment"');
    controller.abort();
    await stack.emu.waitFor(() => stack.emu.chats[0]?.outcome !== "pending", 3000);
    expect(stack.emu.chats[0]?.outcome).toBe("cancelled");
    expect(stack.emu.chats[0]?.chunksSent).toBeLessThan(
      splitTokens("a b c d e f g h i j k l m n o p q r s t").length,
    );
  });
});

describe("vision streaming", () => {
  it("streams a vision answer with the image forwarded", async () => {
    const r = await postRaw(`${stack.url}/chat/vision/stream`, {
      messages: [
        { role: "user", content: "Describe", images: [{ data_base64: PNG_1x1, mime_type: "image/png" }] },
      ],
    });
    const lines = parseNdjsonStrict(r.text);
    expect(lines.at(-1)).toMatchObject({ type: "done", model: VISION });
    expect(stack.emu.chats[0]?.body.messages[0].content[1]).toEqual({
      type: "image_url",
      image_url: { url: `data:image/png;base64,${PNG_1x1}` },
    });
  });
});
