/**
 * Prototyping only: scenario 4 of the bench (N concurrent slow streams through the service) on a
 * fresh service per variant, optionally after a concurrency-50 phase like the bench's, with the
 * service's memory broken down (RSS from /proc; V8 heap, external and array buffers from
 * bench/proto/mem-preload.ts, which the service writes to its log every 50 ms).
 *   node bench/proto/streams-rss.ts [--streams 1000] [--c50 4000] NAME=SCRIPT[:ENV=V...] ...
 * e.g. service=src/main.ts semi4=src/main.ts:NODE_OPTIONS=--max-semi-space-size=4
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { burst, pool, type RequestSpec, timed } from "../lib/load.ts";
import { firstLine, freePort, spawnNode, stop, stopAll, waitForHttp } from "../lib/processes.ts";
import { MiB, RssSampler, rssBytes } from "../lib/procfs.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { streams: { type: "string", default: "1000" }, c50: { type: "string", default: "0" } },
});
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const REPLY = Array.from({ length: 20 }, (_, i) => `${i === 0 ? "" : " "}word${i + 1}`).join("");
const mb = (b: number) => (b / MiB).toFixed(1);

async function main() {
  const emuChild = spawnNode({
    name: "emulator",
    args: [join(ROOT, "bench", "emulator-host.ts"), JSON.stringify({ reply: REPLY })],
    cwd: ROOT,
    logPath: join(OUT, "rss-emulator.log"),
    pipeStdout: true,
  });
  const ports = JSON.parse(await firstLine(emuChild)) as { emulator: number; admin: number };
  const emu = `http://127.0.0.1:${ports.emulator}`;
  const configure = (patch: object) =>
    fetch(`http://127.0.0.1:${ports.admin}/configure`, { method: "POST", body: JSON.stringify(patch) });
  const body = JSON.stringify({ messages: [{ role: "user", content: "hi" }] });
  const chat: RequestSpec = {
    path: "/chat",
    headers: { "content-type": "application/json" },
    body,
    expect: "word20",
  };
  console.log(
    "variant        idle RSS   before   peak RSS   peak heapUsed  peak heapTotal  peak external  errors",
  );
  for (const p of positionals) {
    const name = p.slice(0, p.indexOf("="));
    const [script, ...envs] = p.slice(p.indexOf("=") + 1).split(":");
    const port = await freePort();
    const env: Record<string, string> = {
      OPENAI_BASE_URL: `${emu}/v1`,
      PORT: String(port),
      MAX_CONCURRENT_CHATS: "2000",
      MAX_QUEUED_CHATS: "2000",
    };
    for (const e of envs) env[e.slice(0, e.indexOf("="))] = e.slice(e.indexOf("=") + 1);
    const logPath = join(OUT, `rss-${name}.log`);
    const child = spawnNode({
      name,
      args: ["--import", join(ROOT, "bench", "proto", "mem-preload.ts"), join(ROOT, script as string)],
      cwd: ROOT,
      env,
      logPath,
    });
    const origin = `http://127.0.0.1:${port}`;
    await waitForHttp(origin, child);
    const idle = rssBytes(child.pid);
    await configure({ chunkDelayMs: 0 });
    const seq = pool(origin, 1);
    for (let i = 0; i < 200; i++) await timed(seq, chat);
    if (Number(values.c50) > 0) await burst(pool(origin, 50), chat, Number(values.c50), 50);
    await configure({ chunkDelayMs: 100 });
    const n = Number(values.streams);
    const many = pool(origin, n);
    await Promise.all(
      Array.from({ length: n }, () => many.request({ path: "/x", method: "GET" }).then((r) => r.body.dump())),
    );
    const before = rssBytes(child.pid);
    const mark = readFileSync(logPath, "utf8").length;
    const sampler = new RssSampler(child.pid, 20);
    let errors = 0;
    await Promise.all(
      Array.from({ length: n }, async () => {
        const res = await many.request({ path: "/chat/stream", method: "POST", headers: chat.headers, body });
        const text = await res.body.text();
        if (res.statusCode !== 200 || !text.includes('"type":"done"')) errors++;
      }),
    );
    const peak = sampler.stop();
    const mem = readFileSync(logPath, "utf8")
      .slice(mark)
      .split("\n")
      .filter((l) => l.startsWith('{"mem"'))
      .map((l) => (JSON.parse(l) as { mem: NodeJS.MemoryUsage }).mem);
    const max = (k: keyof NodeJS.MemoryUsage) => Math.max(...mem.map((m) => m[k]));
    console.log(
      `${name.padEnd(12)} ${mb(idle).padStart(9)} ${mb(before).padStart(8)} ${mb(peak).padStart(10)} ${mb(
        max("heapUsed"),
      ).padStart(
        14,
      )} ${mb(max("heapTotal")).padStart(15)} ${mb(max("external")).padStart(14)} ${String(errors).padStart(7)}`,
    );
    await many.close();
    await seq.close();
    await stop(child);
  }
}

try {
  await main();
} finally {
  await stopAll();
}
