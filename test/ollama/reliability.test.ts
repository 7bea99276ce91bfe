/**
 * The Ollama-compatible API keeps the service's guarantees: a client that aborts (the `ollama`
 * client's abort(), or a socket closed on a non-streaming call) cancels the generation upstream
 * within 100 ms; API_KEYS; admission and the queue (429); timeouts; a stream that fails midway
 * ends with Ollama's error line.
 */
import { Ollama } from "ollama";
import { afterEach, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const ask = { model: MODEL, messages: [{ role: "user", content: "x" }] };
let stack: Stack | undefined;

afterEach(async () => {
  expect(stack?.emu.warnings ?? []).toEqual([]);
  await stack?.close();
  stack = undefined;
});

async function start(env: Record<string, string> = {}) {
  stack = await startStack({ env, emulator: { preload: [MODEL] } });
  return stack;
}

describe("cancellation", () => {
  // Chunks every 300 ms: a service that noticed the abort only at its next write would show
  // ~300 ms. Best of three keeps a busy machine's scheduling noise out of the figure.
  it("the ollama client's abort() reaches LM Studio as cancelled within 100 ms", async () => {
    const s = await start();
    const ollama = new Ollama({ host: s.url });
    const latencies: number[] = [];
    for (let i = 0; i < 3; i++) {
      s.emu.reset({ preload: [MODEL], chunkDelayMs: 300, reply: "one two three four five six seven" });
      const stream = await ollama.chat({ ...ask, stream: true });
      let abortedAt = 0;
      await expect(
        (async () => {
          for await (const _ of stream) {
            abortedAt = performance.now();
            stream.abort();
          }
        })(),
      ).rejects.toThrow(/abort/i);
      const rec = () => s.emu.chats.at(-1);
      await s.emu.waitFor(() => rec()?.outcome === "cancelled", 2_000);
      latencies.push((rec()?.endedAt ?? 0) - abortedAt);
    }
    expect(Math.min(...latencies)).toBeLessThan(100);
  });

  it("a non-streaming call whose client goes away is cancelled too", async () => {
    const s = await start();
    s.emu.configure({ chunkDelayMs: 300, reply: "one two three four five six seven" });
    const controller = new AbortController();
    const ollama = new Ollama({
      host: s.url,
      fetch: (input, init) => fetch(input, { ...init, signal: controller.signal }),
    });
    const call = ollama.chat(ask);
    await s.emu.waitFor(() => (s.emu.chats.at(-1)?.chunksSent ?? 0) >= 1, 2_000);
    const abortedAt = performance.now();
    controller.abort();
    await expect(call).rejects.toThrow();
    await s.emu.waitFor(() => s.emu.chats.at(-1)?.outcome === "cancelled", 2_000);
    expect((s.emu.chats.at(-1)?.endedAt ?? 0) - abortedAt).toBeLessThan(300);
  });
});

describe("API_KEYS", () => {
  it("applies: no key is a 401 in Ollama's shape; the client's headers carry one", async () => {
    const s = await start({ API_KEYS: "sk-test-1" });
    await expect(new Ollama({ host: s.url }).list()).rejects.toMatchObject({
      status_code: 401,
      error: expect.stringContaining("Authorization: Bearer"),
    });
    const ollama = new Ollama({ host: s.url, headers: { Authorization: "Bearer sk-test-1" } });
    expect((await ollama.chat(ask)).done).toBe(true);
  });
});

describe("admission and timeouts", () => {
  it("a full queue is a 429 with Retry-After, in Ollama's shape", async () => {
    const s = await start({ MAX_CONCURRENT_CHATS: "1", MAX_QUEUED_CHATS: "0" });
    s.emu.hangNextChat();
    // The first chat holds the only slot (its headers wait for a first token that never comes).
    const controller = new AbortController();
    const first = fetch(`${s.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify(ask),
      signal: controller.signal,
    }).catch(() => undefined);
    await s.emu.waitFor(() => s.emu.chats.length === 1);
    const r = await fetch(`${s.url}/api/chat`, { method: "POST", body: JSON.stringify(ask) });
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).not.toBeNull();
    expect(((await r.json()) as { error: string }).error.length).toBeGreaterThan(10);
    controller.abort();
    await first;
  });

  it("no first token in FIRST_TOKEN_TIMEOUT_MS is a 504 that says so", async () => {
    const s = await start({ FIRST_TOKEN_TIMEOUT_MS: "200" });
    s.emu.hangNextChat();
    await expect(new Ollama({ host: s.url }).chat(ask)).rejects.toMatchObject({
      status_code: 504,
      error: expect.stringContaining("did not answer in time"),
    });
  });

  it("a stream that fails midway ends with an error line, which the client throws", async () => {
    const s = await start();
    s.emu.failNextChat({ afterChunks: 2, mode: "error" });
    const stream = await new Ollama({ host: s.url }).chat({ ...ask, stream: true });
    const parts: string[] = [];
    await expect(
      (async () => {
        for await (const p of stream) parts.push(p.message.content);
      })(),
    ).rejects.toThrow(/LM Studio/);
    expect(parts.length).toBe(2);
  });
});
