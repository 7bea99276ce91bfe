/**
 * npm run bench -- --scenario two-upstreams   (or: node bench/two-upstreams.ts)
 *
 * Several upstreams (issue 16): the same streamed chats through one service in front of one
 * throttled LM Studio emulator, then in front of two (UPSTREAMS_FILE). Each emulator runs 2
 * predictions at once (`parallel: 2`) and sends 20 chunks 20 ms apart, so it is the bottleneck:
 * two should serve about twice the chats per second, with each emulator taking half.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pool, RequestFailed, timedStream } from "./lib/load.ts";
import { firstLine, freePort, spawnNode, stopAll, waitForHttp } from "./lib/processes.ts";
import { round, summarize } from "./lib/stats.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
mkdirSync(OUT, { recursive: true });

const MODEL = "qwen/qwen3-4b-2507";
const WORDS = 20;
const REPLY = Array.from({ length: WORDS }, (_, i) => `${i === 0 ? "" : " "}w${i + 1}`).join("");
const THROTTLE = { reply: REPLY, chunkDelayMs: 20, parallel: 2 };
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 80);
const CONCURRENCY = 8;

const START_FLAGS: string[] = (() => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((w) => w.startsWith("--"));
})();

async function startEmulator(name: string) {
  const child = spawnNode({
    name,
    args: [join(ROOT, "bench", "emulator-host.ts"), JSON.stringify(THROTTLE)],
    cwd: ROOT,
    logPath: join(OUT, `${name}.log`),
    pipeStdout: true,
  });
  const ports = JSON.parse(await firstLine(child)) as { emulator: number; admin: number };
  return { origin: `http://127.0.0.1:${ports.emulator}`, admin: `http://127.0.0.1:${ports.admin}` };
}

async function startService(name: string, env: Record<string, string>) {
  const port = await freePort();
  const child = spawnNode({
    name,
    args: [...START_FLAGS, join(ROOT, "src", "main.ts")],
    cwd: ROOT,
    env: {
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "warn",
      API_KEYS: "",
      // As many chats per model as one emulator runs at once; with two, twice (it counts per upstream).
      MAX_CHATS_PER_MODEL: String(THROTTLE.parallel),
      ...env,
    },
    logPath: join(OUT, `${name}.log`),
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(origin, child);
  return origin;
}

const lastId = async (admin: string) =>
  ((await (await fetch(`${admin}/last-id`)).json()) as { id: number }).id;

async function run(origin: string) {
  const p = pool(origin, CONCURRENCY);
  const spec = {
    path: "/chat/stream",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model_key: MODEL, messages: [{ role: "user", content: "bench" }] }),
    expect: `w${WORDS}`,
  };
  // Warm-up: connections, the model gate's first listing.
  await Promise.all(Array.from({ length: CONCURRENCY }, () => timedStream(p, spec)));
  const latencies: number[] = [];
  let issued = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (issued < REQUESTS) {
        issued++;
        try {
          latencies.push((await timedStream(p, spec)).total);
        } catch (error) {
          if (!(error instanceof RequestFailed)) throw error;
          errors++;
        }
      }
    }),
  );
  const wallMs = performance.now() - t0;
  await p.close();
  const s = summarize(latencies);
  return {
    chatsPerSecond: round((latencies.length / wallMs) * 1000),
    p50: round(s.p50),
    p90: round(s.p90),
    p99: round(s.p99),
    errors,
  };
}

try {
  const [e1, e2] = await Promise.all([startEmulator("emulator-1"), startEmulator("emulator-2")]);
  const file = join(OUT, "upstreams.json");
  writeFileSync(
    file,
    JSON.stringify({
      upstreams: [
        { name: "one", openai_base_url: `${e1.origin}/v1` },
        { name: "two", openai_base_url: `${e2.origin}/v1` },
      ],
    }),
  );
  const single = await startService("service-one-upstream", { OPENAI_BASE_URL: `${e1.origin}/v1` });
  const multi = await startService("service-two-upstreams", { UPSTREAMS_FILE: file });

  const one = await run(single);
  const before = await Promise.all([lastId(e1.admin), lastId(e2.admin)]);
  const two = await run(multi);
  const after = await Promise.all([lastId(e1.admin), lastId(e2.admin)]);
  const share = after.map((n, i) => n - (before[i] as number));

  const rows = [
    ["", "chats/s", "p50 ms", "p90 ms", "p99 ms", "errors"],
    ["one upstream", one.chatsPerSecond, one.p50, one.p90, one.p99, one.errors],
    ["two upstreams", two.chatsPerSecond, two.p50, two.p90, two.p99, two.errors],
  ];
  console.log(
    `${REQUESTS} streamed chats, ${CONCURRENCY} at once; each emulator: parallel ${THROTTLE.parallel}, ` +
      `${WORDS} chunks ${THROTTLE.chunkDelayMs} ms apart\n`,
  );
  for (const r of rows) console.log(r.map((c, i) => String(c).padStart(i === 0 ? 14 : 9)).join(" "));
  console.log(
    `\ntwo upstreams: ${share[0]} chats on the first emulator, ${share[1]} on the second (incl. warm-up)`,
  );
  console.log(`speed-up: ${round(two.chatsPerSecond / one.chatsPerSecond)}x`);
} finally {
  await stopAll();
}
