/**
 * Conformance: /v1 driven by the real clients people point at it (the `openai` SDK, the AI SDK with
 * @ai-sdk/openai-compatible, LangChain's ChatOpenAI), against the service on a real port with the
 * LM Studio emulator behind it.
 */
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { ChatOpenAI } from "@langchain/openai";
import { embed, generateText, jsonSchema, streamText, tool } from "ai";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const EMBEDDING = "text-embedding-nomic-embed-text-v1.5";
let stack: Stack;
let openai: OpenAI;

beforeAll(async () => {
  stack = await startStack();
  openai = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  expect(stack.emu.warnings).toEqual([]);
  await stack.close();
});
beforeEach(() => {
  stack.emu.reset({ preload: [MODEL] });
});

const lastChat = () => stack.emu.chats.at(-1);

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

describe("openai (Node)", () => {
  it("chat, not streamed", async () => {
    const r = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "hello there" }],
      seed: 7,
    });
    expect(r.choices[0]?.message.content).toBe(`Hello from ${MODEL}! You said: hello there`);
    expect(r.usage?.total_tokens).toBeGreaterThan(0);
    expect(lastChat()?.body).toMatchObject({ seed: 7 });
  });

  it("chat, streamed, with a tool call", async () => {
    stack.emu.configure({ toolCall: { name: "get_weather", arguments: '{"city":"Paris"}' } });
    const stream = await openai.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "weather in Paris?" }],
      tools: [weatherTool],
      tool_choice: "auto",
      stream: true,
      stream_options: { include_usage: true },
    });
    let name = "";
    let args = "";
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      const call = chunk.choices[0]?.delta.tool_calls?.[0];
      name += call?.function?.name ?? "";
      args += call?.function?.arguments ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toEqual({ city: "Paris" });
    expect(finish).toBe("tool_calls");
    expect(lastChat()?.body).toMatchObject({ tools: [weatherTool], tool_choice: "auto" });
  });

  it("embeddings", async () => {
    const r = await openai.embeddings.create({ model: EMBEDDING, input: ["one", "two"] });
    expect(r.data).toHaveLength(2);
    expect(r.data[0]?.embedding.length).toBe(768);
    expect(lastChat()?.endpoint).toBe("/v1/embeddings");
  });

  it("models.list", async () => {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    expect(ids).toContain(MODEL);
    expect(ids).toContain(EMBEDDING);
  });

  it("responses, plain and streamed", async () => {
    const r = await openai.responses.create({ model: MODEL, input: "hi" });
    expect(r.output_text).toBe(`Hello from ${MODEL}! You said: hi`);
    const stream = await openai.responses.create({ model: MODEL, input: "again", stream: true });
    let text = "";
    for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
    expect(text).toBe(`Hello from ${MODEL}! You said: again`);
  });

  it("an AbortSignal reaches the emulator as a cancelled generation", async () => {
    stack.emu.configure({ chunkDelayMs: 200, reply: "one two three four five six seven eight" });
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: MODEL, messages: [{ role: "user", content: "count" }], stream: true },
      { signal: controller.signal },
    );
    let abortedAt = 0;
    // The SDK ends an aborted stream quietly (or with an abort error, depending on the moment).
    try {
      for await (const _ of stream) {
        abortedAt = performance.now();
        controller.abort();
      }
    } catch (error) {
      expect(String(error)).toMatch(/abort/i);
    }
    expect(abortedAt).toBeGreaterThan(0);
    await stack.emu.waitFor(() => lastChat()?.outcome === "cancelled");
    expect(lastChat()?.chunksSent).toBeLessThan(8);
    expect((lastChat()?.endedAt ?? 0) - abortedAt).toBeLessThan(100);
  });

  it("a non-streamed request aborted mid-generation is cancelled upstream too", async () => {
    stack.emu.configure({ chunkDelayMs: 200, reply: "one two three four five six seven eight" });
    const controller = new AbortController();
    const pending = openai.chat.completions.create(
      { model: MODEL, messages: [{ role: "user", content: "count" }] },
      { signal: controller.signal },
    );
    // Generating: the emulator has the request (a non-streamed answer is sent whole at the end).
    await stack.emu.waitFor(() => lastChat()?.outcome === "pending" && lastChat()?.model === MODEL);
    const abortedAt = performance.now();
    controller.abort();
    await expect(pending).rejects.toThrow(/abort/i);
    await stack.emu.waitFor(() => lastChat()?.outcome === "cancelled");
    expect((lastChat()?.endedAt ?? 0) - abortedAt).toBeLessThan(100);
  });
});

describe("ai with @ai-sdk/openai-compatible", () => {
  const provider = () => createOpenAICompatible({ name: "lmstudio-service", baseURL: `${stack.url}/v1` });

  it("generateText", async () => {
    const { text } = await generateText({ model: provider()(MODEL), prompt: "hello" });
    expect(text).toBe(`Hello from ${MODEL}! You said: hello`);
  });

  it("streamText, stopped with abortSignal", async () => {
    stack.emu.configure({ chunkDelayMs: 200, reply: "one two three four five six seven eight" });
    const controller = new AbortController();
    const result = streamText({
      model: provider()(MODEL),
      prompt: "count",
      abortSignal: controller.signal,
      onError: () => {},
    });
    let received = "";
    let abortedAt = 0;
    try {
      for await (const delta of result.textStream) {
        received += delta;
        abortedAt = performance.now();
        controller.abort();
      }
    } catch {
      // an aborted stream may end with an AbortError, depending on the moment
    }
    expect(received.length).toBeGreaterThan(0);
    await stack.emu.waitFor(() => lastChat()?.outcome === "cancelled");
    expect((lastChat()?.endedAt ?? 0) - abortedAt).toBeLessThan(100);
  });

  it("streamText to the end", async () => {
    const result = streamText({ model: provider()(MODEL), prompt: "stream please" });
    let text = "";
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe(`Hello from ${MODEL}! You said: stream please`);
  });

  it("embed", async () => {
    const { embedding } = await embed({ model: provider().embeddingModel(EMBEDDING), value: "hello" });
    expect(embedding).toHaveLength(768);
  });

  it("a tool call", async () => {
    stack.emu.configure({ toolCall: { name: "get_weather", arguments: '{"city":"Oslo"}' } });
    const result = await generateText({
      model: provider()(MODEL),
      prompt: "weather in Oslo?",
      tools: {
        get_weather: tool({
          description: "The weather in a city",
          inputSchema: jsonSchema<{ city: string }>({
            type: "object",
            properties: { city: { type: "string" } },
            required: ["city"],
          }),
        }),
      },
    });
    expect(result.toolCalls).toHaveLength(1);
    expect(result.toolCalls[0]).toMatchObject({ toolName: "get_weather", input: { city: "Oslo" } });
  });
});

describe("@langchain/openai ChatOpenAI", () => {
  const chat = () =>
    new ChatOpenAI({
      model: MODEL,
      apiKey: "unused",
      maxRetries: 0,
      configuration: { baseURL: `${stack.url}/v1` },
    });

  it("invoke", async () => {
    const message = await chat().invoke("hello langchain");
    expect(message.content).toBe(`Hello from ${MODEL}! You said: hello langchain`);
  });

  it("stream", async () => {
    let text = "";
    for await (const chunk of await chat().stream("stream langchain")) text += chunk.content;
    expect(text).toBe(`Hello from ${MODEL}! You said: stream langchain`);
  });
});
