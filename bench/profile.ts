/**
 * CPU profile of the service under one of the bench's loads:
 *   node bench/profile.ts [--scenario seq|c50|stream|image] [--surface chat|v1] [--count N] [--log-level info]
 *                         [--main src/main.ts]
 * Starts the emulator and `node --cpu-prof <main>` (the service, or a variant of it under bench/),
 * drives it, stops it (the profile is written on exit) and prints where its CPU time went: the
 * functions with the most self time, and self time by package / file. The .cpuprofile stays in
 * bench/out/profiles/ (open it in Chrome DevTools or speedscope).
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { burst, pool, type RequestSpec, timed, timedStream } from "./lib/load.ts";
import { firstLine, freePort, spawnNode, stop, stopAll, waitForHttp } from "./lib/processes.ts";
import { cpuMs } from "./lib/procfs.ts";
import { summarize } from "./lib/stats.ts";
import { START_FLAGS } from "./lib/targets.ts";

const { values } = parseArgs({
  options: {
    scenario: { type: "string", default: "seq" },
    count: { type: "string" },
    "log-level": { type: "string", default: "info" },
    main: { type: "string", default: "src/main.ts" },
    top: { type: "string", default: "30" },
    /** Name files inside packages too (node_modules/openai/core/streaming.js, ...). */
    files: { type: "boolean", default: false },
    "no-prof": { type: "boolean", default: false },
    /** Which surface takes the requests: the reference /chat, or the /v1 pass-through. */
    surface: { type: "string", default: "chat" },
  },
});

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
const PROFILES = join(OUT, "profiles");
mkdirSync(PROFILES, { recursive: true });
const scenario = values.scenario ?? "seq";
const count = Number(values.count ?? { seq: 3000, c50: 6000, stream: 1000, image: 10 }[scenario] ?? 1000);
const REPLY = Array.from({ length: 20 }, (_, i) => `${i === 0 ? "" : " "}word${i + 1}`).join("");

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  if (url === "") return "(native / V8)";
  if (url.startsWith("node:")) return url;
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const inner = path.slice(nm + "node_modules/".length);
    if (values.files) return inner;
    const rest = inner.split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? path);
  }
  return relative(ROOT, path);
}

/** Microseconds on CLOCK_MONOTONIC: the clock of V8's profile timestamps, in every process. */
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Summarizes the samples taken between `fromUs` and `toUs` (the measured phase, not startup). */
function summarizeProfile(file: string, top: number, fromUs: number, toUs: number): void {
  const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = prof.startTime;
  prof.samples.forEach((id, i) => {
    const dt = prof.timeDeltas[i] ?? 0;
    t += dt;
    if (t >= fromUs && t <= toUs) self.set(id, (self.get(id) ?? 0) + dt);
  });
  let total = 0;
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === "(idle)" || functionName === "(program)") continue;
    total += us;
    const loc = where(url);
    const key = `${functionName || "(anonymous)"}  ${loc}${url ? `:${lineNumber + 1}` : ""}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const bucket = functionName === "(garbage collector)" ? "(garbage collector)" : loc;
    pkg.set(bucket, (pkg.get(bucket) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  console.log(`\nbusy CPU in the profile: ${(total / 1000).toFixed(0)} ms (idle and "(program)" left out)`);
  console.log("\nself time by package / file:");
  for (const [k, us] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(us)}  ${k}`);
  console.log(`\ntop ${top} functions by self time:`);
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(us)}  ${k}`);
}

async function main() {
  const emuChild = spawnNode({
    name: "emulator",
    args: [join(ROOT, "bench", "emulator-host.ts"), JSON.stringify({ reply: REPLY })],
    cwd: ROOT,
    logPath: join(OUT, "profile-emulator.log"),
    pipeStdout: true,
  });
  const ports = JSON.parse(await firstLine(emuChild)) as { emulator: number; admin: number };
  const emu = `http://127.0.0.1:${ports.emulator}`;
  const port = await freePort();
  const before = new Set(readdirSync(PROFILES));
  const svc = spawnNode({
    name: "service",
    args: [
      // `npm start`'s flags: the profile is of what users run.
      ...START_FLAGS,
      ...(values["no-prof"] ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILES}`]),
      join(ROOT, values.main ?? "src/main.ts"),
    ],
    cwd: ROOT,
    env: {
      OPENAI_BASE_URL: `${emu}/v1`,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: values["log-level"] ?? "info",
      MAX_CONCURRENT_CHATS: "2000",
      MAX_QUEUED_CHATS: "2000",
      MAX_CHATS_PER_MODEL: "2000",
    },
    logPath: join(OUT, "profile-service.log"),
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(origin, svc);

  const body = JSON.stringify({ messages: [{ role: "user", content: "Benchmark: say twenty words." }] });
  const headers = { "content-type": "application/json" };
  let spec: RequestSpec = { path: "/chat", headers, body, expect: "word20" };
  if (scenario === "stream") spec = { path: "/chat/stream", headers, body, expect: '"type":"done"' };
  if (values.surface === "v1") {
    const stream = scenario === "stream";
    spec = {
      path: "/v1/chat/completions",
      headers,
      body: JSON.stringify({
        model: "qwen/qwen3-4b-2507",
        messages: [{ role: "user", content: "Benchmark: say twenty words." }],
        ...(stream && { stream: true }),
      }),
      expect: stream ? "[DONE]" : "word20",
    };
  }
  if (scenario === "image") {
    const { makePng } = await import("./lib/image.ts");
    const b64 = makePng(10 * 1024 * 1024).toString("base64");
    spec = {
      path: "/chat/vision",
      headers,
      body: JSON.stringify({
        messages: [
          { role: "user", content: "Describe.", images: [{ data_base64: b64, mime_type: "image/png" }] },
        ],
      }),
      expect: "word20",
    };
  }
  const p = pool(origin, scenario === "c50" ? 50 : 1);
  // warm-up
  for (let i = 0; i < Math.min(300, count / 10); i++) await timed(p, spec);
  const cpu0 = cpuMs(svc.pid);
  const from = monoUs();
  const t0 = performance.now();
  let lat: number[] = [];
  if (scenario === "c50") lat = (await burst(p, spec, count, 50)).latencies;
  else if (scenario === "stream") for (let i = 0; i < count; i++) lat.push((await timedStream(p, spec)).ttfb);
  else for (let i = 0; i < count; i++) lat.push(await timed(p, spec));
  const wall = performance.now() - t0;
  const to = monoUs();
  const cpu = cpuMs(svc.pid) - cpu0;
  const s = summarize(lat);
  console.log(
    `${scenario} x${count} via ${values.main}: p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms, ` +
      `${((count / wall) * 1000).toFixed(0)} req/s, service CPU ${((cpu * 1000) / count).toFixed(0)} µs/request`,
  );
  await p.close();
  await stop(svc, 10_000);
  if (values["no-prof"]) return;
  const fresh = readdirSync(PROFILES)
    .filter((f) => f.endsWith(".cpuprofile") && !before.has(f))
    .map((f) => join(PROFILES, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (fresh[0] === undefined) throw new Error("no profile written");
  console.log(`profile: ${relative(ROOT, fresh[0])}`);
  summarizeProfile(fresh[0], Number(values.top), from, to);
}

try {
  await main();
} finally {
  await stopAll();
}
