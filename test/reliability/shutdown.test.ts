import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";

const MODEL = "qwen/qwen3-4b-2507";
let emu: LmStudioEmulator;

beforeAll(async () => {
  emu = await LmStudioEmulator.start({ preload: [MODEL] });
});
afterAll(async () => {
  await emu.stop();
});

async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, "127.0.0.1");
  await once(srv, "listening");
  const port = (srv.address() as { port: number }).port;
  srv.close();
  return port;
}

/** The real service as a child process, as `npm start` runs it. */
async function startService(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, ["src/main.ts"], {
    env: {
      ...process.env,
      OPENAI_BASE_URL: emu.openaiBaseUrl,
      PORT: String(port),
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const printed = new EventEmitter();
  const append = (d: Buffer) => {
    output += d;
    printed.emit("data");
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  child.once("exit", () => printed.emit("exit"));

  /** Resolves once the output matches `pattern`; rejects if the child exits or 10 s pass first. */
  const waitForOutput = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const finish = (error?: Error) => {
        clearTimeout(timer);
        printed.off("data", check);
        printed.off("exit", gone);
        if (error) reject(error);
        else resolve();
      };
      const check = () => {
        if (pattern.test(output)) finish();
      };
      const gone = () => finish(new Error(`exited before printing ${pattern}:\n${output}`));
      const timer = setTimeout(() => finish(new Error(`no ${pattern} within 10 s:\n${output}`)), 10_000);
      printed.on("data", check);
      printed.on("exit", gone);
      check();
    });

  const url = `http://127.0.0.1:${port}`;
  // Ready once /health answers: poll it, failing if that takes longer than 10 s.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`the service did not become ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url, output: () => output, waitForOutput };
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const streamBody = JSON.stringify({ messages: [{ role: "user", content: "go" }] });

describe("graceful shutdown on SIGTERM", () => {
  it("refuses new requests with 503, lets in-flight streams finish, exits 0", async () => {
    emu.reset({ preload: [MODEL], chunkDelayMs: 50, reply: "a b c d e f g h i j" });
    const svc = await startService({ SHUTDOWN_GRACE_MS: "5000" });
    const streaming = await fetch(`${svc.url}/chat/regular/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamBody,
    });
    const exit = exitOf(svc.child);
    svc.child.kill("SIGTERM");
    // The service logs this line in its SIGTERM handler, right before it starts draining.
    await svc.waitForOutput(/shutting down/);
    // While draining the port stays open so that new callers learn why: 503, not a refused connection.
    const late = await fetch(`${svc.url}/models`);
    expect(late.status).toBe(503);
    expect((await late.json()).code).toBe("shutting_down");
    const text = await streaming.text();
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ type: "done" });
    expect(lines.filter((l) => l.type === "fragment")).toHaveLength(10);
    expect(await exit).toBe(0);
  });

  it("ends streams still running after SHUTDOWN_GRACE_MS with an error line, then exits 0", async () => {
    emu.reset({ preload: [MODEL], chunkDelayMs: 100, reply: Array(100).fill("w").join(" ") });
    const svc = await startService({ SHUTDOWN_GRACE_MS: "300" });
    const streaming = await fetch(`${svc.url}/chat/regular/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: streamBody,
    });
    const exit = exitOf(svc.child);
    const signalledAt = performance.now();
    svc.child.kill("SIGTERM");
    const lines = (await streaming.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toEqual({
      type: "error",
      error: { code: "shutting_down", message: expect.any(String), request_id: expect.any(String) },
    });
    expect(await exit).toBe(0);
    expect(performance.now() - signalledAt).toBeLessThan(3_000);
    await emu.waitFor(() => emu.chats.at(-1)?.outcome === "cancelled");
  });
});

describe("binding", () => {
  it("warns when listening beyond loopback without API_KEYS", async () => {
    const svc = await startService({ HOST: "0.0.0.0" });
    const exit = exitOf(svc.child);
    svc.child.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(svc.output()).toMatch(/"level":40.*without API_KEYS/);
  });

  it("does not warn on loopback, nor with API_KEYS set", async () => {
    const svc = await startService({ HOST: "0.0.0.0", API_KEYS: "k" });
    const exit = exitOf(svc.child);
    svc.child.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(svc.output()).not.toContain("without API_KEYS");
  });

  it("refuses to start on a bad variable, naming it", async () => {
    const child = spawn(process.execPath, ["src/main.ts"], {
      env: { ...process.env, PORT: "eighty", MAX_CONCURRENT_CHATS: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr?.on("data", (d) => {
      err += d;
    });
    expect(await exitOf(child)).toBe(2);
    expect(err).toMatch(/PORT="eighty": must be a number/);
    expect(err).toMatch(/MAX_CONCURRENT_CHATS="0": must be at least 1/);
  });
});
