/**
 * Measures the emulator alone: runs it in a child process (node test/emulator/cli.ts) and drives
 * it with undici `request` at concurrency 50.
 *   node test/emulator/selfbench.ts [--seconds 3] [--concurrency 50]
 * Phases: non-streaming chats (requests/s), then streamed chats with a 1000-chunk reply (chunks/s).
 * On Linux it also prints the emulator's own CPU time per request (from /proc), which is what
 * matters on a loaded machine: the client usually saturates first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";

const { values } = parseArgs({
  options: { seconds: { type: "string", default: "3" }, concurrency: { type: "string", default: "50" } },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const MODEL = "google/gemma-3-1b";

/** user+system CPU seconds of a process (Linux /proc; NaN elsewhere), assuming 100 ticks/s */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

function startEmulator(extra: string[]): Promise<{ child: ChildProcess; base: string }> {
  const cli = fileURLToPath(new URL("./cli.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    [cli, "--port", "0", "--preload", MODEL, "--parallel", "1000", ...extra],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /HTTP \(OpenAI-compatible\): (\S+)/.exec(out);
      if (m?.[1] !== undefined) resolve({ child, base: m[1] });
    });
    child.once("exit", (code) => reject(new Error(`emulator exited with ${code}`)));
  });
}

async function phase(
  child: ChildProcess,
  base: string,
  body: string,
  onBody: (text: string) => number,
): Promise<{ requests: number; units: number; elapsed: number; cpuUsPerRequest: number }> {
  const dispatcher = new Agent({ connections: concurrency, pipelining: 1 });
  const url = `${base}/chat/completions`;
  const headers = { "content-type": "application/json", authorization: "Bearer lm-studio" };
  const one = async (): Promise<number> => {
    const res = await request(url, { method: "POST", body, headers, dispatcher });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    return onBody(await res.body.text());
  };
  // warm-up
  await Promise.all(Array.from({ length: concurrency }, one));
  let requests = 0;
  let units = 0;
  const cpu0 = cpuSeconds(child.pid);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const u = await one(); // not `units += await one()`: that reads `units` before the await
        units += u;
        requests++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpuUsPerRequest = ((cpuSeconds(child.pid) - cpu0) * 1e6) / requests;
  await dispatcher.close();
  return { requests, units, elapsed, cpuUsPerRequest };
}

function countFrames(text: string): number {
  let n = 0;
  for (let i = text.indexOf("data: "); i !== -1; i = text.indexOf("data: ", i + 6)) n++;
  return n;
}

const messages = [{ role: "user", content: "Say something short." }];

const a = await startEmulator([]);
try {
  const r = await phase(a.child, a.base, JSON.stringify({ model: MODEL, messages }), () => 1);
  console.log(
    `non-streaming: ${r.requests} requests in ${r.elapsed.toFixed(2)} s = ${Math.round(r.requests / r.elapsed)} req/s (c=${concurrency}); emulator CPU ${r.cpuUsPerRequest.toFixed(0)} us/request`,
  );
} finally {
  a.child.kill("SIGTERM");
}

const b = await startEmulator(["--reply-words", "1000"]);
try {
  const body = JSON.stringify({ model: MODEL, messages, stream: true });
  // content chunks = data frames minus the finish chunk and [DONE]
  const r = await phase(b.child, b.base, body, (text) => countFrames(text) - 2);
  console.log(
    `streaming 1000-chunk replies: ${r.requests} streams, ${r.units} chunks in ${r.elapsed.toFixed(2)} s = ${Math.round(r.units / r.elapsed)} chunks/s (${(r.requests / r.elapsed).toFixed(1)} streams/s, c=${concurrency}); emulator CPU ${(r.cpuUsPerRequest / 1000).toFixed(2)} us/chunk`,
  );
} finally {
  b.child.kill("SIGTERM");
}
