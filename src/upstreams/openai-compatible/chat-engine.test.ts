import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isServiceError } from "../../errors.ts";
import type { ChatEvent } from "../types.ts";
import { createChatEngine } from "./chat-engine.ts";
import { createChatErrorMapper } from "./map-openai-error.ts";
import { createUndiciFetch } from "./undici-fetch.ts";

/**
 * A scripted upstream on a real socket: it answers every chat with `script` written in ONE write,
 * so that all its events reach the engine in one read (as a fast LM Studio's often do).
 */
let script = "";
const server = http.createServer((req, res) => {
  req.resume();
  req.once("end", () => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(script);
  });
});
const fetcher = createUndiciFetch({ connectTimeoutMs: 1_000, socketTimeoutMs: 5_000 });
let engine: ReturnType<typeof createChatEngine>;

beforeAll(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const baseURL = `http://127.0.0.1:${port}/v1`;
  engine = createChatEngine({
    name: "upstream",
    baseURL,
    baseUrlSetting: "OPENAI_BASE_URL",
    apiKey: "x",
    fetch: fetcher.fetch,
    firstTokenTimeoutMs: 5_000,
    chunkTimeoutMs: 5_000,
    mapError: createChatErrorMapper({ name: "upstream", baseUrl: baseURL, credentialsHint: "" }),
  });
});
afterAll(async () => {
  server.close();
  await fetcher.close();
});

const event = (data: object) => `data: ${JSON.stringify(data)}\n\n`;
const delta = (d: object, finish: string | null = null) =>
  event({ model: "m", choices: [{ index: 0, delta: d, finish_reason: finish }] });

const THINK_THEN_ANSWER =
  delta({ reasoning_content: "think " }) +
  delta({ reasoning_content: "more" }) +
  delta({ content: "Hello" }) +
  delta({ content: ", " }) +
  delta({ content: "world" }, "stop") +
  "data: [DONE]\n\n";

async function run(wholeAnswer: boolean): Promise<{ events: ChatEvent[]; error?: unknown }> {
  const events: ChatEvent[] = [];
  try {
    const chat = engine.stream({
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      params: {},
      signal: new AbortController().signal,
      reasoning: true,
      wholeAnswer,
    });
    for await (const e of chat) events.push(e);
  } catch (error) {
    return { events, error };
  }
  return { events };
}

describe("chat engine: events that arrive together", () => {
  it("a caller that wants the answer whole gets each run of text as one event, with its piece count", async () => {
    script = THINK_THEN_ANSWER;
    const whole = await run(true);
    expect(whole.error).toBeUndefined();
    expect(whole.events.slice(0, 2)).toEqual([
      { type: "reasoning", content: "think more" },
      { type: "delta", content: "Hello, world", pieces: 3 },
    ]);
    expect(whole.events.at(-1)).toMatchObject({ type: "end", finishReason: "stop" });
  });

  it("a streaming caller gets every upstream delta as it was", async () => {
    script = THINK_THEN_ANSWER;
    const streamed = await run(false);
    expect(streamed.events.filter((e) => e.type !== "end")).toEqual([
      { type: "reasoning", content: "think " },
      { type: "reasoning", content: "more" },
      { type: "delta", content: "Hello" },
      { type: "delta", content: ", " },
      { type: "delta", content: "world" },
    ]);
  });

  it("text before a failure in the same read still reaches the caller, then the failure", async () => {
    script =
      delta({ content: "partial" }) +
      event({ error: { message: "Model unloaded", type: "server_error" } }) +
      delta({ content: "never" });
    for (const whole of [true, false]) {
      const { events, error } = await run(whole);
      expect(events).toEqual([{ type: "delta", content: "partial" }]);
      expect(isServiceError(error)).toBe(true);
    }
  });

  it("an event that is no JSON object ends the answer with a 502 that says so, after the text before it", async () => {
    for (const bad of ["data: {not json\n\n", "data: null\n\n", "data: 42\n\n", "data: [1]\n\n"]) {
      script = `${delta({ content: "ok" })}${bad}${delta({ content: "never" }, "stop")}data: [DONE]\n\n`;
      const { events, error } = await run(true);
      expect(events).toEqual([{ type: "delta", content: "ok" }]);
      expect(error).toMatchObject({ status: 502, code: "upstream_error" });
      expect((error as Error).message).toMatch(
        /^upstream sent an answer event that is not a JSON object: check that OPENAI_BASE_URL/,
      );
    }
  });
});
