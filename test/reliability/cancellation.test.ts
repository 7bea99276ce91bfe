import { request } from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectNoWarnings } from "../api/helpers.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
const MODEL = "qwen/qwen3-4b-2507";

beforeAll(async () => {
  stack = await startStack();
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});
beforeEach(() => {
  stack.emu.reset({
    preload: [MODEL],
    chunkDelayMs: 100,
    reply: "one two three four five six seven eight nine ten",
  });
});

/**
 * Starts a POST and destroys its socket once `abortWhen` happened: the first response bytes
 * arrived, or a condition on the emulator's records holds (the chat or the load is under way
 * upstream). Resolves with the time of the abort.
 */
function startAndAbort(path: string, body: unknown, abortWhen: "first-byte" | (() => boolean)) {
  return new Promise<number>((resolve, reject) => {
    const url = new URL(path, stack.url);
    const abort = () => {
      const at = performance.now();
      req.destroy();
      resolve(at);
    };
    const req = request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      res.once("data", () => {
        if (abortWhen === "first-byte") abort();
      });
    });
    req.on("error", () => {});
    req.end(JSON.stringify(body));
    if (abortWhen === "first-byte") setTimeout(() => reject(new Error("no first byte")), 5_000).unref();
    else stack.emu.waitFor(abortWhen, 5_000).then(abort, reject);
  });
}

/** The emulator is generating the latest chat: at least one chunk is out. */
const generating = () => (stack.emu.chats.at(-1)?.chunksSent ?? 0) >= 1;
/** A load is under way upstream. */
const loading = () => stack.emu.loads.at(-1)?.outcome === "pending";

describe("a client that goes away cancels the generation upstream", () => {
  // Chunks come every 300 ms: a service that only noticed the abort on its next write would show
  // ~300 ms. The best of three tries keeps a busy CI machine's scheduling noise out of the figure.
  async function cancelLatency(path: string, abortWhen: "first-byte" | (() => boolean)): Promise<number> {
    const latencies: number[] = [];
    for (let i = 0; i < 3; i++) {
      stack.emu.reset({
        preload: [MODEL],
        chunkDelayMs: 300,
        reply: "one two three four five six seven eight",
      });
      const abortedAt = await startAndAbort(
        path,
        { messages: [{ role: "user", content: "count" }] },
        abortWhen,
      );
      const chat = () => stack.emu.chats.at(-1);
      await stack.emu.waitFor(() => chat()?.outcome === "cancelled", 2_000);
      expect(chat()?.chunksSent).toBeLessThan(8);
      latencies.push((chat()?.endedAt ?? 0) - abortedAt);
      if (path.endsWith("/stream") === false) expect(chat()?.body.stream).toBe(true);
    }
    return Math.min(...latencies);
  }

  it("streaming: the emulator records the chat as cancelled within 100 ms", async () => {
    const latency = await cancelLatency("/chat/regular/stream", "first-byte");
    console.info(`streaming cancel reached the emulator after ${latency.toFixed(1)} ms`);
    expect(latency).toBeLessThan(100);
  });

  it("non-streaming: the upstream is streamed too, so an abort is seen at once", async () => {
    const latency = await cancelLatency("/chat/regular", generating);
    console.info(`non-streaming cancel reached the emulator after ${latency.toFixed(1)} ms`);
    expect(latency).toBeLessThan(100);
  });

  it("a finished chat is recorded as finished, not cancelled (the check can fail)", async () => {
    stack.emu.configure({ chunkDelayMs: 0 });
    const res = await fetch(`${stack.url}/chat/regular`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    await stack.emu.waitFor(() => stack.emu.chats.at(-1)?.outcome === "finished");
  });
});

describe("a client that goes away while its model loads", () => {
  it("cancels the load when nobody else waits for that model", async () => {
    stack.emu.reset({ loadTimeMs: 2_000, loadSteps: 20 });
    await startAndAbort("/models/load", { model_key: MODEL }, loading);
    await stack.emu.waitFor(() => stack.emu.loads.at(-1)?.outcome === "cancelled", 1_000);
    expect(stack.emu.loaded()).toEqual([]);
  });

  it("keeps the load going while another caller still waits for it", async () => {
    stack.emu.reset({ loadTimeMs: 600, loadSteps: 6 });
    const patient = fetch(`${stack.url}/models/load`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model_key: MODEL }),
    });
    await stack.emu.waitFor(loading);
    // The streamed variant joins the same load; its first progress line shows it is waiting too.
    await startAndAbort("/models/load/stream", { model_key: MODEL }, "first-byte");
    const res = await patient;
    expect(res.status).toBe(200);
    expect((await res.json()).identifier).toBe(MODEL);
    expect(stack.emu.loads).toHaveLength(1);
    expect(stack.emu.loads[0]?.outcome).toBe("loaded");
  });

  it("a chat waiting for an on-demand load cancels it when it goes away", async () => {
    stack.emu.reset({ loadTimeMs: 2_000, loadSteps: 20 });
    // The reset unloaded the model behind the service's back; the service learns it at its next listing.
    await fetch(`${stack.url}/models`);
    await startAndAbort(
      "/chat/stream",
      { model_key: MODEL, messages: [{ role: "user", content: "hi" }] },
      // Its first progress line: the chat is waiting for the load.
      "first-byte",
    );
    await stack.emu.waitFor(() => stack.emu.loads.at(-1)?.outcome === "cancelled", 1_000);
  });
});
