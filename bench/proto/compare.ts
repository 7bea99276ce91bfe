/**
 * Prototyping only (not used by `npm run bench`): compares service variants on the bench's
 * sequential and concurrency-50 loads, interleaved, in one run, with the CPU each one spends per
 * request (from /proc: the whole process, and its main thread alone).
 *   node bench/proto/compare.ts [--seq 2000] [--c50 4000] [--path /chat] NAME=SCRIPT[:ENV=V[:ENV=V]] ...
 * e.g. service=src/main.ts warn=src/main.ts:LOG_LEVEL=warn fake=bench/proto/variant-main.ts:VARIANT=fake
 * "direct" (the emulator) and "floor" (bench/proto/floor-proxy.ts) are always there.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Pool } from "undici";
import { burst, pool, type RequestSpec, timed, timedStream } from "../lib/load.ts";
import { type Child, firstLine, freePort, spawnNode, stopAll, waitForHttp } from "../lib/processes.ts";
import { cpuMs } from "../lib/procfs.ts";
import { summarize } from "../lib/stats.ts";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seq: { type: "string", default: "2000" },
    c50: { type: "string", default: "4000" },
    path: { type: "string", default: "/chat" },
    /** Emulator delay between chunks (ms); with a /stream path the latencies are times to first byte. */
    "chunk-delay": { type: "string", default: "0" },
    portkey: { type: "boolean", default: false },
  },
});
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const REPLY = Array.from({ length: 20 }, (_, i) => `${i === 0 ? "" : " "}word${i + 1}`).join("");

const mainThreadCpuMs = (pid: number): number => cpuMs(pid, pid);

interface T {
  name: string;
  child: Child;
  spec: RequestSpec;
  seqPool: Pool;
  c50Pool: Pool;
  seq: number[];
  c50: number[];
  c50Wall: number;
  cpu: number;
  main: number;
  n: number;
}

async function main() {
  const emuChild = spawnNode({
    name: "emulator",
    args: [
      join(ROOT, "bench", "emulator-host.ts"),
      JSON.stringify({ reply: REPLY, chunkDelayMs: Number(values["chunk-delay"]) }),
    ],
    cwd: ROOT,
    logPath: join(OUT, "compare-emulator.log"),
    pipeStdout: true,
  });
  const ports = JSON.parse(await firstLine(emuChild)) as { emulator: number };
  const emu = `http://127.0.0.1:${ports.emulator}`;
  const streaming = values.path?.endsWith("stream") ?? false;
  const openai: RequestSpec = {
    path: "/v1/chat/completions",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "hi" }],
      ...(streaming && { stream: true }),
    }),
    expect: streaming ? "[DONE]" : "word20",
  };
  const one = async (p: Pool, spec: RequestSpec) =>
    streaming ? (await timedStream(p, spec)).ttfb : await timed(p, spec);
  const svc: RequestSpec = {
    path: values.path ?? "/chat",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    expect: values.path?.endsWith("stream") ? '"type":"done"' : "word20",
  };
  const targets: T[] = [];
  const add = (name: string, child: Child, origin: string, spec: RequestSpec) =>
    targets.push({
      name,
      child,
      spec,
      seqPool: pool(origin, 1),
      c50Pool: pool(origin, 50),
      seq: [],
      c50: [],
      c50Wall: 0,
      cpu: 0,
      main: 0,
      n: 0,
    });
  add("direct", emuChild, emu, openai);
  const floorPort = await freePort();
  const floor = spawnNode({
    name: "floor",
    args: [join(ROOT, "bench", "proto", "floor-proxy.ts"), String(floorPort), emu],
    cwd: ROOT,
    logPath: join(OUT, "compare-floor.log"),
  });
  await waitForHttp(`http://127.0.0.1:${floorPort}`, floor);
  add("floor", floor, `http://127.0.0.1:${floorPort}`, openai);
  if (values.portkey) {
    const pkPort = await freePort();
    const pk = spawnNode({
      name: "portkey",
      args: [
        "--import",
        join(ROOT, "bench", "portkey-preload.ts"),
        join(ROOT, "node_modules/@portkey-ai/gateway/build/start-server.js"),
        `--port=${pkPort}`,
        "--headless",
      ],
      cwd: ROOT,
      logPath: join(OUT, "compare-portkey.log"),
    });
    await waitForHttp(`http://127.0.0.1:${pkPort}`, pk);
    add("portkey", pk, `http://127.0.0.1:${pkPort}`, {
      ...openai,
      headers: {
        ...openai.headers,
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": `${emu}/v1`,
        authorization: "Bearer lm-studio",
      },
    });
  }
  for (const p of positionals) {
    const name = p.slice(0, p.indexOf("="));
    const [script, ...envs] = p.slice(p.indexOf("=") + 1).split(":");
    const port = await freePort();
    const env: Record<string, string> = {
      OPENAI_BASE_URL: `${emu}/v1`,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "info",
      MAX_CONCURRENT_CHATS: "2000",
      MAX_QUEUED_CHATS: "2000",
    };
    for (const e of envs) {
      env[e.slice(0, e.indexOf("="))] = e.slice(e.indexOf("=") + 1);
    }
    const child = spawnNode({
      name,
      args: [join(ROOT, script as string)],
      cwd: ROOT,
      env,
      logPath: join(OUT, `compare-${name}.log`),
    });
    await waitForHttp(`http://127.0.0.1:${port}`, child);
    add(name, child, `http://127.0.0.1:${port}`, svc);
  }
  for (const t of targets) {
    for (let i = 0; i < 300; i++) await one(t.seqPool, t.spec);
    if (!streaming) await burst(t.c50Pool, t.spec, 1000, 50);
  }
  const seqN = Number(values.seq);
  for (let i = 0; i < seqN; i++) {
    for (const t of i % 2 ? [...targets].reverse() : targets) {
      const c0 = cpuMs(t.child.pid);
      const m0 = mainThreadCpuMs(t.child.pid);
      t.seq.push(await one(t.seqPool, t.spec));
      t.cpu += cpuMs(t.child.pid) - c0;
      t.main += mainThreadCpuMs(t.child.pid) - m0;
      t.n++;
    }
  }
  const c50N = Number(values.c50);
  for (let r = 0; r < (streaming ? 0 : 4); r++) {
    for (const t of r % 2 ? [...targets].reverse() : targets) {
      const b = await burst(t.c50Pool, t.spec, Math.ceil(c50N / 4), 50);
      t.c50.push(...b.latencies);
      t.c50Wall += b.wallMs;
    }
  }
  const d = summarize(targets[0]?.seq ?? []);
  console.log("target        seq p50   added   seq p99   CPU µs/req (main thread)   c50 req/s  c50 p50");
  for (const t of targets) {
    const s = summarize(t.seq);
    const c = summarize(t.c50);
    console.log(
      `${t.name.padEnd(12)} ${s.p50.toFixed(3).padStart(8)} ${(s.p50 - d.p50).toFixed(3).padStart(7)} ${s.p99
        .toFixed(2)
        .padStart(
          9,
        )}   ${((t.cpu * 1000) / t.n).toFixed(0).padStart(6)} (${((t.main * 1000) / t.n).toFixed(0).padStart(5)})` +
        `${((t.c50.length / t.c50Wall) * 1000).toFixed(0).padStart(20)} ${c.p50.toFixed(2).padStart(8)}`,
    );
  }
  for (const t of targets) {
    await t.seqPool.close();
    await t.c50Pool.close();
  }
}

try {
  await main();
} finally {
  await stopAll();
}
