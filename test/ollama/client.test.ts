/**
 * The Ollama-compatible API (/api) driven by the real `ollama` npm client, over real sockets, in
 * front of the LM Studio emulator.
 */
import { randomBytes } from "node:crypto";
import { Ollama } from "ollama";
import sharp from "sharp";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PNG_1x1, type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
let ollama: Ollama;

beforeAll(async () => {
  stack = await startStack({
    env: { MODEL_ALIASES: "llama3.2=qwen/qwen3-4b-2507" },
    emulator: { preload: ["qwen/qwen3-4b-2507"] },
  });
  ollama = new Ollama({ host: stack.url });
});
afterAll(async () => {
  expect(stack.emu.warnings).toEqual([]);
  await stack.close();
});
// biome-ignore lint/suspicious/noExplicitAny: what the emulator received, read field by field
const lastBody = () => (stack.emu.chats.at(-1)?.body ?? {}) as Record<string, any>;

beforeEach(() => {
  // The state the tests start from, whatever ran before: only the file's preload is loaded.
  stack.emu.reset({ preload: ["qwen/qwen3-4b-2507"] });
});

describe("models", () => {
  it("list: downloaded models with details, and the aliases", async () => {
    const { models } = await ollama.list();
    const qwen = models.find((m) => m.name === "qwen/qwen3-4b-2507");
    expect(qwen).toMatchObject({
      model: "qwen/qwen3-4b-2507",
      details: { format: "gguf", quantization_level: expect.any(String) },
    });
    expect(qwen?.size).toBeGreaterThan(0);
    expect(qwen?.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(models.map((m) => m.name)).toContain("text-embedding-nomic-embed-text-v1.5");
    expect(models.map((m) => m.name)).toContain("llama3.2");
  });

  it("ps: loaded models with expires_at and size_vram", async () => {
    const { models } = await ollama.ps();
    const qwen = models.find((m) => m.name === "qwen/qwen3-4b-2507");
    expect(qwen?.size_vram).toBeGreaterThan(0);
    expect(Number.isNaN(new Date(qwen?.expires_at ?? "").getTime())).toBe(false);
  });

  it("show: details, capabilities and the context length", async () => {
    const r = await ollama.show({ model: "qwen3-vl-4b-instruct" });
    expect(r.capabilities).toEqual(expect.arrayContaining(["completion", "vision"]));
    const info = r.model_info as unknown as Record<string, unknown>;
    const arch = info["general.architecture"];
    expect(info[`${arch}.context_length`]).toBeGreaterThan(0);
    const e = await ollama.show({ model: "text-embedding-nomic-embed-text-v1.5" });
    expect(e.capabilities).toEqual(["embedding"]);
  });

  it("show: an unknown model is a 404 with a hint", async () => {
    await expect(ollama.show({ model: "qwen/qwen3-4b-250" })).rejects.toMatchObject({
      status_code: 404,
      error: expect.stringContaining('did you mean "qwen/qwen3-4b-2507"'),
    });
  });

  it("version", async () => {
    expect((await ollama.version()).version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("delete, copy, create, push say that LM Studio manages its files", async () => {
    await expect(ollama.delete({ model: "x" })).rejects.toThrow(/LM Studio manages its model files/);
    await expect(ollama.copy({ source: "x", destination: "y" })).rejects.toThrow(/LM Studio manages/);
    await expect(ollama.push({ model: "x" })).rejects.toThrow(/LM Studio manages/);
    await expect(ollama.create({ model: "x", from: "y" })).rejects.toThrow(/LM Studio manages/);
  });
});

describe("chat", () => {
  it("non-streaming: one object with Ollama's counters in nanoseconds", async () => {
    const r = await ollama.chat({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "Why is the sky blue?" }],
    });
    expect(r.message.role).toBe("assistant");
    expect(r.message.content).toContain("Why is the sky blue?");
    expect(r).toMatchObject({ done: true, done_reason: "stop", model: "qwen/qwen3-4b-2507" });
    expect(r.eval_count).toBeGreaterThan(0);
    expect(r.prompt_eval_count).toBeGreaterThan(0);
    expect(r.total_duration).toBeGreaterThan(r.eval_duration);
    expect(Number.isInteger(r.total_duration)).toBe(true);
  });

  it("streaming: pieces, then done:true with the counters", async () => {
    const stream = await ollama.chat({
      model: "llama3.2:latest",
      messages: [{ role: "user", content: "Hello there" }],
      stream: true,
    });
    let text = "";
    let last: Awaited<ReturnType<typeof ollama.chat>> | undefined;
    for await (const part of stream) {
      text += part.message.content;
      last = part;
    }
    expect(text).toContain("Hello there");
    expect(last).toMatchObject({ done: true, done_reason: "stop", model: "llama3.2:latest" });
    expect(last?.eval_count).toBeGreaterThan(0);
    expect(stack.emu.chats.at(-1)?.model).toBe("qwen/qwen3-4b-2507");
  });

  it("an image (raw base64) reaches LM Studio as a PNG data URL", async () => {
    const r = await ollama.chat({
      model: "qwen3-vl-4b-instruct",
      messages: [{ role: "user", content: "What is this?", images: [PNG_1x1] }],
    });
    expect(r.done).toBe(true);
    const body = stack.emu.chats.at(-1)?.body as { messages: Array<{ content: unknown }> };
    expect(JSON.stringify(body.messages[0]?.content)).toContain(`data:image/png;base64,${PNG_1x1}`);
  });

  it("an image of hundreds of kilobytes (kept out of the parse until read) reaches LM Studio whole", async () => {
    const big = (
      await sharp(randomBytes(200 * 200 * 3), { raw: { width: 200, height: 200, channels: 3 } })
        .png()
        .toBuffer()
    ).toString("base64");
    expect(big.length).toBeGreaterThan(64 * 1024);
    const r = await ollama.chat({
      model: "qwen3-vl-4b-instruct",
      messages: [{ role: "user", content: "What is this?", images: [big] }],
    });
    expect(r.done).toBe(true);
    const body = stack.emu.chats.at(-1)?.body as { messages: Array<{ content: unknown }> };
    expect(body.messages[0]?.content).toContainEqual({
      type: "image_url",
      image_url: { url: `data:image/png;base64,${big}` },
    });
  });

  it("a tool call comes back with arguments as an object; the result goes back as a tool message", async () => {
    stack.emu.configure({ toolCall: { name: "get_weather", arguments: '{"city":"Paris"}' } });
    const tools = [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather in a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ];
    const messages = [{ role: "user", content: "Weather in Paris?" }];
    const r = await ollama.chat({ model: "qwen/qwen3-4b-2507", messages, tools });
    expect(r.message.tool_calls).toEqual([
      expect.objectContaining({
        function: expect.objectContaining({ name: "get_weather", arguments: { city: "Paris" } }),
      }),
    ]);
    stack.emu.configure({ toolCall: null });
    const again = await ollama.chat({
      model: "qwen/qwen3-4b-2507",
      tools,
      messages: [...messages, r.message, { role: "tool", content: "18°C", tool_name: "get_weather" }],
    });
    expect(again.done).toBe(true);
    const sent = stack.emu.chats.at(-1)?.body as { messages: Array<Record<string, unknown>> };
    const calls = sent.messages[1]?.tool_calls as Array<{ id: string; function: { arguments: string } }>;
    const call = calls?.[0];
    expect(JSON.parse(call?.function.arguments ?? "")).toEqual({ city: "Paris" });
    expect(sent.messages[2]).toMatchObject({ role: "tool", content: "18°C", tool_call_id: call?.id });
  });

  it("streamed tool calls arrive as one line with the whole call", async () => {
    stack.emu.configure({
      toolCall: { name: "get_weather", arguments: '{"city":"Paris","unit":"celsius"}' },
    });
    const stream = await ollama.chat({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "Weather?" }],
      tools: [{ type: "function", function: { name: "get_weather" } }],
      stream: true,
    });
    const calls = [];
    for await (const part of stream) calls.push(...(part.message.tool_calls ?? []));
    expect(calls).toHaveLength(1);
    expect(calls[0]?.function.arguments).toEqual({ city: "Paris", unit: "celsius" });
  });

  it("a JSON schema format becomes response_format json_schema; format json too", async () => {
    const schema = { type: "object", properties: { age: { type: "integer" } }, required: ["age"] };
    await ollama.chat({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "x" }],
      format: schema,
    });
    expect(lastBody().response_format).toEqual({
      type: "json_schema",
      json_schema: { name: "response", schema, strict: true },
    });
    await ollama.chat({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "x" }],
      format: "json",
    });
    expect(lastBody().response_format).toMatchObject({
      type: "json_schema",
    });
  });

  it("options map to OpenAI's fields", async () => {
    await ollama.chat({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "x" }],
      options: { temperature: 0.2, top_p: 0.9, top_k: 20, num_predict: 3, stop: ["\n"], seed: 7 },
    });
    expect(stack.emu.chats.at(-1)?.body).toMatchObject({
      temperature: 0.2,
      top_p: 0.9,
      top_k: 20,
      max_tokens: 3,
      stop: ["\n"],
      seed: 7,
    });
  });

  it("think: reasoning comes back in message.thinking", async () => {
    stack.emu.configure({ reasoning: { text: "Let me think about it" } });
    const r = await ollama.chat({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "Hi" }],
      think: true,
    });
    expect(r.message.thinking).toBe("Let me think about it");
    expect(r.message.content).toContain("Hi");
    const hidden = await ollama.chat({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "Hi" }],
      think: false,
    });
    expect(hidden.message.thinking).toBeUndefined();
  });

  it("an unknown model is a 404 in Ollama's shape", async () => {
    await expect(
      ollama.chat({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
    ).rejects.toMatchObject({ status_code: 404, error: expect.stringContaining("no-such-model") });
  });

  it("a typo in a field is a 400 that says what was meant", async () => {
    const r = await fetch(`${stack.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({ model: "qwen/qwen3-4b-2507", mesages: [] }),
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/mesages/);
  });
});

describe("generate", () => {
  it("non-streaming and streaming, with a system prompt", async () => {
    const r = await ollama.generate({ model: "qwen/qwen3-4b-2507", prompt: "Tell me", system: "Be brief" });
    expect(r.response).toContain("Tell me");
    expect(r).toMatchObject({ done: true, done_reason: "stop" });
    const sent = stack.emu.chats.at(-1)?.body as { messages: unknown[] };
    expect(sent.messages).toEqual([
      { role: "system", content: "Be brief" },
      { role: "user", content: "Tell me" },
    ]);
    let text = "";
    for await (const p of await ollama.generate({
      model: "qwen/qwen3-4b-2507",
      prompt: "Again",
      stream: true,
    })) {
      text += p.response;
    }
    expect(text).toContain("Again");
  });

  it("template and raw are refused with a reason", async () => {
    await expect(
      ollama.generate({ model: "qwen/qwen3-4b-2507", prompt: "x", raw: true }),
    ).rejects.toMatchObject({ status_code: 400, error: expect.stringContaining("prompt template") });
  });

  it("no prompt loads the model; keep_alive 0 unloads it", async () => {
    const loaded = await ollama.generate({ model: "google/gemma-3-1b", prompt: "", keep_alive: "10m" });
    expect(loaded).toMatchObject({ done: true, done_reason: "load" });
    expect(stack.emu.loads.at(-1)).toMatchObject({ modelKey: "google/gemma-3-1b", ttlMs: 600_000 });
    const gone = await ollama.generate({ model: "google/gemma-3-1b", prompt: "", keep_alive: 0 });
    expect(gone).toMatchObject({ done: true, done_reason: "unload" });
    expect(stack.emu.loaded().map((i) => i.identifier)).not.toContain("google/gemma-3-1b");
  });

  it("keep_alive is the TTL of the load a chat causes; options.num_ctx its context length", async () => {
    await ollama.chat({
      model: "google/gemma-3-1b",
      messages: [{ role: "user", content: "x" }],
      keep_alive: "2m",
      options: { num_ctx: 2048 },
    });
    expect(stack.emu.loads.at(-1)).toMatchObject({
      modelKey: "google/gemma-3-1b",
      ttlMs: 120_000,
      contextLength: 2048,
    });
  });

  it("keep_alive 0 unloads after the answer", async () => {
    const r = await ollama.chat({
      model: "google/gemma-3-1b",
      messages: [{ role: "user", content: "x" }],
      keep_alive: 0,
    });
    expect(r.done).toBe(true);
    expect(stack.emu.loaded().map((i) => i.identifier)).not.toContain("google/gemma-3-1b");
  });
});

describe("embeddings", () => {
  it("embed: one vector per input; the legacy endpoint too", async () => {
    const r = await ollama.embed({ model: "text-embedding-nomic-embed-text-v1.5", input: ["a", "b"] });
    expect(r.embeddings).toHaveLength(2);
    expect(r.embeddings[0]).toHaveLength(768);
    const legacy = await ollama.embeddings({ model: "text-embedding-nomic-embed-text-v1.5", prompt: "a" });
    expect(legacy.embedding).toEqual(r.embeddings[0]);
  });
});

describe("pull", () => {
  it("downloads through LM Studio's downloader with Ollama's progress lines", async () => {
    stack.emu.configure({ downloadTimeMs: 40, downloadSteps: 4 });
    const stream = await ollama.pull({ model: "qwen/qwen3-8b", stream: true });
    const lines = [];
    for await (const line of stream) lines.push(line);
    expect(lines[0]).toEqual({ status: "pulling manifest" });
    const progress = lines.filter((l) => l.total !== undefined);
    expect(progress.map((l) => l.completed / l.total)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(progress[0]?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(progress[0]?.status).toBe(`pulling ${progress[0]?.digest.slice(7, 19)}`);
    expect(lines.slice(-3).map((l) => l.status)).toEqual([
      "verifying sha256 digest",
      "writing manifest",
      "success",
    ]);
    expect(stack.emu.downloads.at(-1)).toMatchObject({ modelKey: "qwen/qwen3-8b", outcome: "downloaded" });
    expect((await ollama.list()).models.map((m) => m.name)).toContain("qwen/qwen3-8b");
  });

  it("a downloaded model is a success at once; stream:false is one object", async () => {
    const before = stack.emu.downloads.length;
    expect(await ollama.pull({ model: "qwen/qwen3-4b-2507" })).toEqual({ status: "success" });
    expect(stack.emu.downloads.length).toBe(before);
  });

  it("a download that fails midway ends with Ollama's error line; the service lives on", async () => {
    stack.emu.reset({ preload: ["qwen/qwen3-4b-2507"], downloadTimeMs: 40, downloadSteps: 4 });
    stack.emu.failNextDownload();
    const stream = await ollama.pull({ model: "qwen/qwen3-8b", stream: true });
    const statuses: string[] = [];
    await expect(
      (async () => {
        for await (const line of stream) statuses.push(line.status);
      })(),
    ).rejects.toThrow(/LM Studio/);
    expect(statuses[0]).toBe("pulling manifest");
    expect(stack.emu.downloads.at(-1)?.outcome).toBe("failed");
    await new Promise((r) => setTimeout(r, 20));
    expect((await ollama.version()).version).toBeTruthy();
  });

  it("a model LM Studio's catalogue lacks is a 404", async () => {
    await expect(ollama.pull({ model: "nobody/nothing", stream: true })).rejects.toMatchObject({
      status_code: 404,
      error: expect.stringContaining("not in LM Studio's model catalogue"),
    });
  });
});
