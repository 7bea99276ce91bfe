import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { expectNoLeak, expectNoWarnings } from "../api/helpers.ts";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
const MODEL = "qwen/qwen3-4b-2507";
const chatBody = { messages: [{ role: "user", content: "hello" }] };

beforeAll(async () => {
  stack = await startStack({
    env: {
      FIRST_TOKEN_TIMEOUT_MS: "300",
      CHUNK_TIMEOUT_MS: "200",
      SDK_TIMEOUT_MS: "300",
      LOAD_TIMEOUT_MS: "400",
    },
  });
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});
beforeEach(() => {
  stack.emu.setWsSilent(false);
  stack.emu.reset({ preload: [MODEL] });
});

describe("never hang: every wait has a deadline", () => {
  it("no first token in time: 504 with a detail, and the upstream request is cancelled", async () => {
    stack.emu.hangNextChat();
    const started = performance.now();
    const r = await postJson(`${stack.url}/chat/regular`, chatBody);
    expect(r.status).toBe(504);
    expect(r.json.detail).toMatch(/first token.*300 ms/);
    expectNoLeak(r.text);
    expect(performance.now() - started).toBeLessThan(2_000);
    await stack.emu.waitFor(() => stack.emu.chats.at(-1)?.outcome === "cancelled");
  });

  it("no first token in time on a stream: 504 before any line is sent", async () => {
    stack.emu.hangNextChat();
    const r = await postJson(`${stack.url}/chat/regular/stream`, chatBody);
    expect(r.status).toBe(504);
    expect(r.json.code).toBe("upstream_timeout");
    expectNoLeak(r.text);
  });

  it("silence between two chunks: the stream ends with one error line", async () => {
    stack.emu.configure({ chunkDelayMs: 1_000, reply: "a b c" });
    const r = await postNdjson(`${stack.url}/chat/regular/stream`, chatBody);
    expect(r.status).toBe(200);
    const last = r.lines.at(-1);
    expect(last).toEqual({
      type: "error",
      error: {
        code: "upstream_timeout",
        message: expect.stringMatching(/next chunk/),
        request_id: r.headers.get("x-request-id"),
      },
    });
    expect(r.lines.filter((l) => l.type === "error")).toHaveLength(1);
    expect(r.lines.some((l) => l.type === "done")).toBe(false);
    expectNoLeak(r.text);
    await stack.emu.waitFor(() => stack.emu.chats.at(-1)?.outcome === "cancelled");
  });

  it("a websocket that never answers: SDK calls get 504, and the next call reconnects", async () => {
    stack.emu.setWsSilent(true);
    // A fresh socket is needed for silence to bite: drop the current one.
    stack.emu.dropAllSockets();
    const started = performance.now();
    const r = await fetch(`${stack.url}/models`);
    expect(r.status === 504 || r.status === 503).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
    const silent = await fetch(`${stack.url}/models`);
    expect(silent.status).toBe(504);
    expect((await silent.json()).detail).toMatch(/did not answer in time/);
    stack.emu.setWsSilent(false);
    const ok = await fetch(`${stack.url}/models`);
    expect(ok.status).toBe(200);
    expect((await ok.json()).models[0].model_key).toBe(MODEL);
  });

  it("/health stays 200 and says degraded while the websocket is silent", async () => {
    stack.emu.setWsSilent(true);
    stack.emu.dropAllSockets();
    await fetch(`${stack.url}/health`);
    const started = performance.now();
    const r = await fetch(`${stack.url}/health`);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: "degraded", lmstudio: { reachable: false } });
  });

  it("a load that hangs: 504 after LOAD_TIMEOUT_MS, and the load is cancelled upstream", async () => {
    stack.emu.reset();
    stack.emu.hangNextLoad();
    const r = await postJson(`${stack.url}/models/load`, { model_key: MODEL });
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({
      loaded: false,
      error: expect.stringMatching(/^Failed to load model: .*400 ms/),
    });
    expectNoLeak(r.text);
    await stack.emu.waitFor(() => stack.emu.loads.at(-1)?.outcome === "cancelled");
  });
});

describe("LM Studio going away and coming back", () => {
  it("a socket dropped mid-load fails that request clearly; the next one reconnects", async () => {
    stack.emu.reset();
    stack.emu.dropSocketOnNextLoad();
    const r = await postJson(`${stack.url}/models/load`, { model_key: MODEL });
    expect(r.status).toBe(503);
    expect(r.json.error).toMatch(/^Failed to load model: Lost the connection to LM Studio/);
    expectNoLeak(r.text);
    const again = await postJson(`${stack.url}/models/load`, { model_key: MODEL });
    expect(again.status).toBe(200);
    expect(again.json.identifier).toBe(MODEL);
  });

  it("a chat stream dropped mid-way ends with an error line", async () => {
    stack.emu.failNextChat({ afterChunks: 2, mode: "drop" });
    const r = await postNdjson(`${stack.url}/chat/regular/stream`, chatBody);
    expect(r.lines.filter((l) => l.type === "fragment")).toHaveLength(2);
    expect(r.lines.at(-1)?.type).toBe("error");
    expectNoLeak(r.text);
  });

  it("LM Studio down, then restarted: 503, then works without restarting the service", async () => {
    await stack.emu.stop();
    const down = await postJson(`${stack.url}/chat/regular`, chatBody);
    expect(down.status).toBe(503);
    // The model websocket that LM Studio just closed, or the refused reconnect: both say LM Studio is gone.
    expect(down.json.detail).toMatch(
      /^(Could not connect to LM Studio: Connection refused \(|Lost the connection to LM Studio while trying to)/,
    );
    expectNoLeak(down.text);
    const models = await fetch(`${stack.url}/models`);
    expect(models.status).toBe(503);
    await stack.emu.restart();
    stack.emu.reset({ preload: [MODEL] });
    const up = await postJson(`${stack.url}/chat/regular`, chatBody);
    expect(up.status).toBe(200);
    expect((await fetch(`${stack.url}/models`)).status).toBe(200);
  });
});

describe("LM Studio absent when the service starts", () => {
  it("serves /health as degraded, answers 503, then works once LM Studio is up, without a restart", async () => {
    const emu = await LmStudioEmulator.start({ preload: [MODEL] });
    await emu.stop();
    const late = await startStack({ emu });
    try {
      const health = await fetch(`${late.url}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: "degraded", lmstudio: { reachable: false } });
      const chat = await postJson(`${late.url}/chat/regular`, chatBody);
      expect(chat.status).toBe(503);
      expect(chat.json.detail).toMatch(/^Could not connect to LM Studio: Connection refused \(/);
      await emu.restart();
      const up = await postJson(`${late.url}/chat/regular`, chatBody);
      expect(up.status).toBe(200);
      expect(await (await fetch(`${late.url}/health`)).json()).toMatchObject({ status: "ok" });
    } finally {
      await late.close();
      await emu.stop();
    }
  });
});
