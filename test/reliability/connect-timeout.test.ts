import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak } from "../api/helpers.ts";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";

// A port that listens but never accepts, its queue already full: connecting to it hangs, as with
// an LM Studio host that is up but overwhelmed. Python's socket API can listen without accepting.
const NO_ACCEPT = `
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
print(s.getsockname()[1], flush=True)
fill = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", s.getsockname()[1]))
    except BlockingIOError: pass
    fill.append(c)
time.sleep(60)
`;

let blackhole: ChildProcess;
let emu: LmStudioEmulator;
let stack: Stack;

beforeAll(async () => {
  blackhole = spawn("python3", ["-c", NO_ACCEPT], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(blackhole.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
  const port = Number(String(line).trim());
  emu = await LmStudioEmulator.start({ preload: ["qwen/qwen3-4b-2507"] });
  // Models through the emulator's websocket; chats to the port that never accepts.
  stack = await startStack({
    emu,
    env: {
      OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`,
      LMSTUDIO_BASE_URL: emu.wsUrl,
      CONNECT_TIMEOUT_MS: "300",
    },
  });
});
afterAll(async () => {
  await stack.close();
  await emu.stop();
  blackhole.kill();
});

describe("connecting to LM Studio has a deadline", () => {
  it("a connection that is never accepted ends in 504 after CONNECT_TIMEOUT_MS", async () => {
    const started = performance.now();
    const r = await postJson(`${stack.url}/chat/regular`, { messages: [{ role: "user", content: "hi" }] });
    const took = performance.now() - started;
    expect(r.status).toBe(504);
    expect(r.json).toMatchObject({ code: "upstream_timeout", detail: expect.stringMatching(/connecting/) });
    expectNoLeak(r.text);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3_000);
  });
});
