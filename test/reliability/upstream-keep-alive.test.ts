import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

/**
 * LM Studio may send the end of a chunked body (`0\r\n\r\n`) in a later packet than `[DONE]`. A chat
 * that stops reading at `[DONE]` and destroys the body then closes its upstream connection: every
 * chat would open a new one. The service reads each upstream body to its end, so they are reused.
 */
const REGULAR = "qwen/qwen3-4b-2507";
const CHATS = 100;
/**
 * Connections a keep-alive pool may open besides reuse: a timed-out idle socket, and one more for
 * each chat that starts while the last one's terminator (5 ms late here) is still on its way, so
 * that the faster the chats, the more. Churn opens one per chat (100).
 */
const FEW = 10;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ emulator: { separateFinalChunk: true } });
});
beforeEach(() => {
  stack.emu.reset({ preload: [REGULAR], separateFinalChunk: true });
});
afterAll(async () => {
  await stack.close();
});

const body = { messages: [{ role: "user", content: "Say something." }] };

describe("upstream keep-alive with the chunked terminator in its own packet", () => {
  it.each([
    ["/chat", false],
    ["/chat/stream", true],
  ] as const)(`%s: ${CHATS} sequential chats reuse a few upstream connections`, async (path, stream) => {
    const before = stack.emu.httpConnections;
    for (let i = 0; i < CHATS; i++) {
      const r = stream
        ? await postNdjson(`${stack.url}${path}`, body)
        : await postJson(`${stack.url}${path}`, body);
      expect(r.status).toBe(200);
    }
    const opened = stack.emu.httpConnections - before;
    expect(opened).toBeLessThanOrEqual(FEW);
  });

  it(`/api/chat (Ollama): ${CHATS} sequential chats reuse a few upstream connections`, async () => {
    const before = stack.emu.httpConnections;
    for (let i = 0; i < CHATS; i++) {
      const r = await postNdjson(`${stack.url}/api/chat`, { model: REGULAR, messages: body.messages });
      expect(r.status).toBe(200);
    }
    expect(stack.emu.httpConnections - before).toBeLessThanOrEqual(FEW);
  });

  it(`/v1/chat/completions: ${CHATS} sequential streamed chats reuse a few upstream connections`, async () => {
    const before = stack.emu.httpConnections;
    for (let i = 0; i < CHATS; i++) {
      const res = await fetch(`${stack.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: REGULAR, messages: body.messages, stream: true }),
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("[DONE]");
    }
    expect(stack.emu.httpConnections - before).toBeLessThanOrEqual(FEW);
  });
});
