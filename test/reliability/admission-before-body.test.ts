import { once } from "node:events";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";

/**
 * Sends a chat's headers and only the first bytes of a body it announces as `declared` bytes long,
 * and resolves with the raw answer: an answer can only come from a service that did not wait for the
 * body, that is, one that admits (or refuses) a chat before reading it.
 */
async function partialChat(url: string, declared: number): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, "connect");
  const head = '{"messages":[{"role":"user","content":"';
  socket.write(
    `POST /chat/regular HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${declared}\r\n\r\n${head}`,
  );
  let answer = "";
  socket.on("data", (d) => {
    answer += d;
  });
  await new Promise<void>((resolve) => {
    socket.on("data", () => {
      if (answer.includes("\r\n\r\n") && /\}\s*$/.test(answer)) resolve();
    });
    socket.once("close", () => resolve());
  });
  socket.destroy();
  return answer;
}

describe("a chat is admitted before its body is read", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: {
        MAX_CONCURRENT_CHATS: "1",
        MAX_QUEUED_CHATS: "1",
        QUEUE_TIMEOUT_MS: "300",
        MAX_BODY_BYTES: String(64 * 1024 * 1024),
      },
      emulator: { preload: [MODEL] },
    });
  });
  afterAll(async () => {
    await stack.close();
  });

  it("a queued chat times out with 429 while its client is still sending a 50 MB body", async () => {
    stack.emu.hangNextChat();
    const holder = new AbortController();
    const running = fetch(`${stack.url}/chat/regular`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hold the slot" }] }),
      signal: holder.signal,
    }).catch(() => undefined);
    await stack.emu.waitFor(() => stack.emu.chats.length === 1);

    const answer = await partialChat(stack.url, 50 * 1024 * 1024);
    expect(answer).toMatch(/^HTTP\/1\.1 429 /);
    expect(answer).toContain('"code":"queue_timeout"');
    expect(stack.emu.chats).toHaveLength(1);
    holder.abort();
    await running;
  });
});
