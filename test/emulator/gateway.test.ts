/**
 * Conformance of what the /v1 and Ollama-style gateways need: reasoning, tool calls, embeddings,
 * completions, the Responses API, Anthropic messages, raw body records, cancellation, faults, and the
 * transport knobs. Driven by the real `openai` client where it has the endpoint, else fetch.
 */
import net from "node:net";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "./emulator.ts";

const QWEN = "qwen/qwen3-4b-2507";
const GEMMA = "google/gemma-3-1b";
const NOMIC = "text-embedding-nomic-embed-text-v1.5";
const GPT_OSS = "openai/gpt-oss-20b";

let emu: LmStudioEmulator;
let openai: OpenAI;
const hi = [{ role: "user" as const, content: "hi there" }];
const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { city: { type: "string" } } },
  },
};

beforeAll(async () => {
  emu = await LmStudioEmulator.start();
  openai = new OpenAI({ baseURL: emu.openaiBaseUrl, apiKey: "lm-studio", maxRetries: 0 });
});

beforeEach(() => {
  emu.reset({
    loadTimeMs: 10,
    models: [
      { modelKey: QWEN, trainedForToolUse: true },
      { modelKey: GEMMA },
      { modelKey: GPT_OSS },
      { modelKey: NOMIC, type: "embedding" },
    ],
    preload: [QWEN, GEMMA, GPT_OSS, NOMIC],
  });
});

afterEach(() => {
  expect(emu.warnings).toEqual([]);
});

afterAll(async () => {
  await emu.stop();
});

async function sse(path: string, body: unknown): Promise<string> {
  const res = await fetch(`${emu.httpUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return res.text();
}

describe("reasoning", () => {
  it("streams delta.reasoning_content before content, and carries it in the message", async () => {
    emu.configure({ reasoning: { text: "Let me think." }, reply: "Four." });
    const res = await openai.chat.completions.create({ model: QWEN, messages: hi });
    const message = res.choices[0]?.message as unknown as Record<string, unknown>;
    expect(message).toMatchObject({
      role: "assistant",
      content: "Four.",
      reasoning_content: "Let me think.",
    });
    const stream = await openai.chat.completions.create({ model: QWEN, messages: hi, stream: true });
    const order: string[] = [];
    for await (const chunk of stream) {
      const d = chunk.choices[0]?.delta as Record<string, unknown> | undefined;
      if (typeof d?.reasoning_content === "string") order.push(`r:${d.reasoning_content}`);
      if (typeof d?.content === "string") order.push(`c:${d.content}`);
    }
    expect(order).toEqual(["r:Let", "r: me", "r: think.", "c:Four."]);
  });

  it("gpt-oss uses delta.reasoning / message.reasoning; reasoning can replace content", async () => {
    emu.configure({ reasoning: { text: "Hmm." }, reply: "" });
    const res = await openai.chat.completions.create({ model: GPT_OSS, messages: hi });
    expect(res.choices[0]?.message).toMatchObject({ content: "", reasoning: "Hmm." });
    const text = await sse("/v1/chat/completions", { model: GPT_OSS, messages: hi, stream: true });
    expect(text).toContain('"delta":{"role":"assistant","reasoning":"Hmm."}');
    expect(text).not.toContain('"content"');
  });
});

describe("tool calls", () => {
  it("streams tool_calls deltas like LM Studio and ends with finish_reason tool_calls", async () => {
    emu.configure({ toolCall: { arguments: '{"city":"Paris"}' } });
    const stream = await openai.chat.completions.create({
      model: QWEN,
      messages: hi,
      tools: [weatherTool],
      stream: true,
    });
    const calls: Array<Record<string, unknown>> = [];
    let args = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      for (const tc of c?.delta.tool_calls ?? []) {
        calls.push(tc as unknown as Record<string, unknown>);
        args += tc.function?.arguments ?? "";
      }
      if (c?.finish_reason) finish = c.finish_reason;
    }
    expect(calls[0]).toMatchObject({
      index: 0,
      type: "function",
      function: { name: "get_weather", arguments: "" },
    });
    expect(typeof calls[0]?.id).toBe("string");
    expect(calls[1]).toEqual({ index: 0, function: { arguments: '{"city":' } });
    expect(args).toBe('{"city":"Paris"}');
    expect(finish).toBe("tool_calls");
  });

  it("answers a non-streaming tool call; tool_choice 'required' forces one, 'none' prevents it", async () => {
    const forced = await openai.chat.completions.create({
      model: QWEN,
      messages: hi,
      tools: [weatherTool],
      tool_choice: "required",
    });
    expect(forced.choices[0]?.finish_reason).toBe("tool_calls");
    expect(forced.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: "function",
      function: { name: "get_weather", arguments: "{}" },
    });
    emu.configure({ toolCall: {} });
    const none = await openai.chat.completions.create({
      model: QWEN,
      messages: hi,
      tools: [weatherTool],
      tool_choice: "none",
    });
    expect(none.choices[0]?.finish_reason).toBe("stop");
    const noTools = await openai.chat.completions.create({ model: QWEN, messages: hi });
    expect(noTools.choices[0]?.message.tool_calls).toBeUndefined();
  });
});

describe("/v1/embeddings", () => {
  it("deterministic unit vectors, one per input, LM Studio's list shape", async () => {
    const res = await openai.embeddings.create({ model: NOMIC, input: ["a cat", "a dog"] });
    expect(res.object).toBe("list");
    expect(res.model).toBe(NOMIC);
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    const [a, b] = res.data.map((d) => d.embedding);
    expect(a).toHaveLength(768);
    const norm = Math.sqrt((a ?? []).reduce((s, v) => s + v * v, 0));
    expect(norm).toBeCloseTo(1, 6);
    expect(a).not.toEqual(b);
    const again = await openai.embeddings.create({ model: NOMIC, input: "a cat", encoding_format: "float" });
    expect(again.data[0]?.embedding).toEqual(a);
    expect(emu.chats.at(-1)).toMatchObject({ endpoint: "/v1/embeddings", outcome: "finished", model: NOMIC });
    const llmErr = await openai.embeddings.create({ model: GEMMA, input: "x" }).catch((e: unknown) => e);
    expect(llmErr).toBeInstanceOf(OpenAI.APIError);
  });
});

describe("/v1/completions", () => {
  it("answers text completions with and without streaming", async () => {
    emu.configure({ reply: "to find your purpose" });
    const res = await openai.completions.create({
      model: GEMMA,
      prompt: "the meaning of life is",
      max_tokens: 3,
    });
    expect(res.object).toBe("text_completion");
    expect(res.choices[0]).toMatchObject({ text: "to find your", finish_reason: "length" });
    expect(res.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    const stream = await openai.completions.create({ model: GEMMA, prompt: "x", stream: true });
    let text = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe("to find your purpose");
    expect(finish).toBe("stop");
  });
});

describe("/v1/responses", () => {
  it("answers with an output_text message, and streams LM Studio's event names", async () => {
    emu.configure({ reply: "Seven is prime." });
    const res = await openai.responses.create({ model: GEMMA, input: "Provide a prime number" });
    expect(res.output_text).toBe("Seven is prime.");
    expect(res.status).toBe("completed");
    const stream = await openai.responses.create({ model: GEMMA, input: "Provide a prime", stream: true });
    const types: string[] = [];
    let text = "";
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === "response.output_text.delta") text += ev.delta;
    }
    expect(text).toBe("Seven is prime.");
    expect(types[0]).toBe("response.created");
    expect(types).toContain("response.output_text.delta");
    expect(types.at(-1)).toBe("response.completed");
    const raw = await sse("/v1/responses", { model: GEMMA, input: "x", stream: true });
    expect(raw.startsWith("event: response.created\ndata: ")).toBe(true);
  });
});

describe("Anthropic /v1/messages (0.4)", () => {
  it("answers a message and streams message_start … message_stop", async () => {
    emu.configure({ reply: "Hello back." });
    const res = await fetch(`${emu.httpUrl}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "lmstudio" },
      body: JSON.stringify({ model: GEMMA, max_tokens: 256, messages: hi }),
    });
    expect(await res.json()).toMatchObject({
      type: "message",
      role: "assistant",
      model: GEMMA,
      content: [{ type: "text", text: "Hello back." }],
      stop_reason: "end_turn",
    });
    const raw = await sse("/v1/messages", { model: GEMMA, max_tokens: 256, messages: hi, stream: true });
    const events = [...raw.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    expect(events).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });
});

describe("records, cancellation, faults and transport", () => {
  it("records the raw body bytes of every endpoint", async () => {
    const bodies: Array<[string, string]> = [
      ["/v1/chat/completions", `{"model":"${GEMMA}",  "messages":[{"role":"user","content":"é"}]}`],
      ["/v1/completions", `{"model":"${GEMMA}","prompt":"x" }`],
      ["/v1/embeddings", `{ "model":"${NOMIC}","input":"x"}`],
      ["/v1/responses", `{"model":"${GEMMA}","input":"x"}\n`],
      ["/v1/messages", `{"model":"${GEMMA}","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`],
    ];
    for (const [path, body] of bodies) {
      const res = await fetch(`${emu.httpUrl}${path}`, { method: "POST", body });
      expect(res.status).toBe(200);
      const rec = emu.chats.at(-1);
      expect(rec?.endpoint).toBe(path);
      expect(rec?.rawBody.equals(Buffer.from(body))).toBe(true);
      expect(rec?.outcome).toBe("finished");
    }
  });

  it("marks a request cancelled when the client goes away, on every generation endpoint", async () => {
    emu.configure({ chunkDelayMs: 50, reply: "a b c d e f g h i j" });
    for (const [path, body] of [
      ["/v1/completions", { model: GEMMA, prompt: "x", stream: true }],
      ["/v1/responses", { model: GEMMA, input: "x", stream: true }],
      ["/v1/messages", { model: GEMMA, max_tokens: 100, messages: hi, stream: true }],
      ["/v1/embeddings", { model: NOMIC, input: "x" }],
    ] as const) {
      if (path === "/v1/embeddings") emu.hangNextChat();
      const ac = new AbortController();
      const p = fetch(`${emu.httpUrl}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        signal: ac.signal,
      }).then((r) => r.text());
      p.catch(() => {});
      await emu.waitFor(
        () => emu.chats.at(-1)?.endpoint === path && (emu.chats.at(-1)?.chunksSent ?? 0) >= 0,
      );
      await new Promise((r) => setTimeout(r, 80));
      ac.abort();
      await emu.waitFor(() => emu.chats.at(-1)?.outcome === "cancelled");
    }
  });

  it("failNextChat applies to the other endpoints too", async () => {
    emu.failNextChat({ status: 503, body: { error: "busy" } });
    const err = await openai.embeddings.create({ model: NOMIC, input: "x" }).catch((e: unknown) => e);
    expect((err as { status?: number }).status).toBe(503);
    emu.configure({ reply: "a b c" });
    emu.failNextChat({ afterChunks: 1, body: { error: { message: "boom" } } });
    const raw = await sse("/v1/completions", { model: GEMMA, prompt: "x", stream: true });
    expect(raw).toContain('event: error\ndata: {"error":{"message":"boom"}}');
    expect(emu.chats.at(-1)).toMatchObject({ outcome: "failed", chunksSent: 1 });
  });

  it("separateFinalChunk sends the chunked terminator in its own packet; httpConnections counts sockets", async () => {
    emu.configure({ separateFinalChunk: 30, reply: "a b" });
    const before = emu.httpConnections;
    const socket = net.connect(emu.port, "127.0.0.1");
    const reads: Array<{ at: number; data: string }> = [];
    socket.on("data", (d) => reads.push({ at: performance.now(), data: d.toString() }));
    await new Promise((r) => socket.once("connect", r));
    const body = JSON.stringify({ model: GEMMA, messages: hi, stream: true });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (
          reads
            .map((r) => r.data)
            .join("")
            .endsWith("0\r\n\r\n")
        )
          resolve();
        else setTimeout(check, 5);
      };
      check();
    });
    const last = reads.at(-1);
    expect(last?.data).toBe("0\r\n\r\n");
    expect((last?.at ?? 0) - (reads.at(-2)?.at ?? 0)).toBeGreaterThanOrEqual(20);
    socket.destroy();
    expect(emu.httpConnections).toBe(before + 1);
  });
});
