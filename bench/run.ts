/**
 * npm run bench [-- --quick] [-- --json FILE] [-- --update-docs]
 *
 * What lmstudio-service adds on top of LM Studio, side by side with the same requests sent straight
 * to the upstream and through Portkey's gateway, in one run (issue 5). Processes, all on 127.0.0.1:
 *   - the LM Studio emulator (bench/emulator-host.ts: the emulator plus an admin port);
 *   - lmstudio-service three times (`node src/main.ts`): LOG_LEVEL=info (the default, the one the
 *     bars are about), LOG_LEVEL=warn (what request logging costs) and METRICS_ENABLED=false (what
 *     metrics cost);
 *   - Portkey's gateway (@portkey-ai/gateway, headless, with bench/portkey-preload.ts);
 *   - this process: the load generator (undici, keep-alive), which also reads /proc for the others.
 * Every child exits with this process (stdin pipe + bench/watchdog.ts). Method: BENCHMARKS.md.
 *   --quick        small counts (about a minute), for development
 *   --json FILE    the figures as JSON (also in bench/out/results.json)
 *   --update-docs  writes the table into BENCHMARKS.md and the chart to bench/latency.svg
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Pool } from "undici";
import { renderChart } from "./lib/chart.ts";
import { makePng } from "./lib/image.ts";
import {
  abortAfterFirstChunk,
  burst,
  epochNow,
  now,
  pool,
  RequestFailed,
  type RequestSpec,
  timed,
  timedStream,
} from "./lib/load.ts";
import {
  assertAlive,
  type Child,
  firstLine,
  freePort,
  spawnNode,
  stop,
  stopAll,
  waitForHttp,
} from "./lib/processes.ts";
import { cpuMs, hwmBytes, MiB, RssSampler, rssBytes } from "./lib/procfs.ts";
import {
  type ByTarget,
  bars,
  chartGroups,
  type Results,
  renderTable,
  type SomeTargets,
  type TargetInfo,
  type TargetKey,
} from "./lib/report.ts";
import { percentile, round, type Summary, summarize } from "./lib/stats.ts";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "string" },
    "update-docs": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
    scenario: { type: "string" },
  },
});
if (args.help) {
  console.log(
    "usage: npm run bench [-- --quick] [-- --json FILE] [-- --update-docs] [-- --scenario two-upstreams]",
  );
  process.exit(0);
}
// Several upstreams (issue 16): its own small comparison, one upstream against two.
if (args.scenario === "two-upstreams") {
  await import("./two-upstreams.ts");
  process.exit(0);
} else if (args.scenario !== undefined) {
  console.error(`unknown scenario "${args.scenario}" (known: two-upstreams)`);
  process.exit(2);
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const OUT = join(ROOT, "bench", "out");
mkdirSync(OUT, { recursive: true });
const PORTKEY_SERVER = join(ROOT, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
const PORTKEY_PRELOAD = join(ROOT, "bench", "portkey-preload.ts");
/** The whole run stops itself after this, whatever happens. */
const HARD_LIMIT_MS = 300_000;

const N = args.quick
  ? { warm: 100, seq: 200, c50: 600, c50Rounds: 2, stream: 30, streams: 200, image: 3, abort: 3, abortPk: 1 }
  : {
      warm: 300,
      seq: 2000,
      c50: 4000,
      c50Rounds: 4,
      stream: 150,
      streams: 1000,
      image: 8,
      abort: 10,
      abortPk: 2,
    };
const CONCURRENCY = 50;
const STREAM_CHUNKS = 20;
const STREAM_CHUNK_DELAY_MS = 2;
const SLOW_CHUNK_DELAY_MS = 100;
const IMAGE_BYTES = 10 * MiB;

const REGULAR = "qwen/qwen3-4b-2507";
const VISION = "qwen3-vl-4b-instruct";
/** The emulator's reply: 20 words, so 20 content chunks when streamed (one token per chunk). */
const REPLY = Array.from({ length: STREAM_CHUNKS }, (_, i) => `${i === 0 ? "" : " "}word${i + 1}`).join("");
const LAST_WORD = `word${STREAM_CHUNKS}`;
const PROMPT = "Benchmark: say twenty words.";
const PORTKEY_NOTE =
  "started headless on 127.0.0.1 with a preload (bench/portkey-preload.ts) that wraps the global fetch to " +
  "return new Response(r.body, r), because its streaming path needs a mutable Response";

interface Target extends TargetInfo {
  origin: string;
  child: Child;
  chat: RequestSpec;
  stream: RequestSpec;
  seqPool: Pool;
  c50Pool: Pool;
}

const log = (msg: string) => process.stderr.write(`[bench ${(now() / 1000).toFixed(1)}s] ${msg}\n`);

const hardStop = setTimeout(() => {
  process.stderr.write(`bench: over the ${HARD_LIMIT_MS / 1000} s limit, stopping\n`);
  void stopAll().finally(() => process.exit(3));
}, HARD_LIMIT_MS);
hardStop.unref();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------------------------------ processes

async function startEmulator() {
  const child = spawnNode({
    name: "emulator",
    args: [join(ROOT, "bench", "emulator-host.ts"), JSON.stringify({ reply: REPLY, chunkDelayMs: 0 })],
    cwd: ROOT,
    logPath: join(OUT, "emulator.log"),
    pipeStdout: true,
  });
  const ports = JSON.parse(await firstLine(child)) as { emulator: number; admin: number };
  return { child, origin: `http://127.0.0.1:${ports.emulator}`, admin: `http://127.0.0.1:${ports.admin}` };
}

/** Node's flags from `npm start` (`node <flags> src/main.ts`), so the bench measures what users run. */
const START_FLAGS: string[] = (() => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((w) => w.startsWith("--"));
})();

async function startService(
  emulatorOrigin: string,
  logLevel: string,
  name: string,
  env: Record<string, string> = {},
) {
  const port = await freePort();
  const child = spawnNode({
    name,
    args: [...START_FLAGS, join(ROOT, "src", "main.ts")],
    cwd: ROOT,
    env: {
      OPENAI_BASE_URL: `${emulatorOrigin}/v1`,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: logLevel,
      MAX_CONCURRENT_CHATS: "2000",
      MAX_QUEUED_CHATS: "2000",
      API_KEYS: "",
      ...env,
    },
    logPath: join(OUT, `${name}.log`),
  });
  return { child, origin: `http://127.0.0.1:${port}` };
}

async function startPortkey() {
  if (!existsSync(PORTKEY_SERVER)) {
    throw new Error(`Portkey's gateway is not installed (${PORTKEY_SERVER}): run npm ci`);
  }
  const port = await freePort();
  const child = spawnNode({
    name: "portkey",
    args: ["--import", PORTKEY_PRELOAD, PORTKEY_SERVER, `--port=${port}`, "--headless"],
    cwd: ROOT,
    logPath: join(OUT, "portkey.log"),
  });
  return { child, origin: `http://127.0.0.1:${port}` };
}

function adminClient(admin: string) {
  return async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${admin}${path}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`emulator admin ${path}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };
}

// ------------------------------------------------------------------------------------------ helpers

const json = (v: unknown) => JSON.stringify(v);
const H_JSON = { "content-type": "application/json" };

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

class Errors {
  count = 0;
  first: string | undefined;
  note(error: unknown): void {
    this.count++;
    this.first ??= error instanceof Error ? error.message : String(error);
  }
}

const mb = (bytes: number) => round(bytes / MiB);

// ------------------------------------------------------------------------------------------ main

async function main(): Promise<void> {
  const started = new Date();
  const load0 = os.loadavg();
  log(`starting the emulator, the service (three times) and Portkey (${args.quick ? "quick" : "full"} run)`);
  const emu = await startEmulator();
  const admin = adminClient(emu.admin);
  const [svc, svcWarn, svcNoMetrics, pk] = await Promise.all([
    startService(emu.origin, "info", "service"),
    startService(emu.origin, "warn", "service_warn"),
    startService(emu.origin, "info", "service_no_metrics", { METRICS_ENABLED: "false" }),
    startPortkey(),
  ]);
  await Promise.all([
    waitForHttp(svc.origin, svc.child),
    waitForHttp(svcWarn.origin, svcWarn.child),
    waitForHttp(svcNoMetrics.origin, svcNoMetrics.child),
    waitForHttp(pk.origin, pk.child),
  ]);
  const rssIdle = rssBytes(svc.child.pid);

  // The emulator's clock minus ours, from the round trip with the smallest delay (for scenario 6).
  let clock = { offset: 0, rtt: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 30; i++) {
    const t0 = epochNow();
    const { now: theirs } = await admin<{ now: number }>("/now");
    const t1 = epochNow();
    if (t1 - t0 < clock.rtt) clock = { offset: theirs - (t0 + t1) / 2, rtt: t1 - t0 };
  }
  log(`emulator ${emu.origin}, service ${svc.origin} (warn: ${svcWarn.origin}), Portkey ${pk.origin}`);

  const directHeaders = { ...H_JSON, authorization: "Bearer lm-studio" };
  const pkHeaders = {
    ...directHeaders,
    "x-portkey-provider": "openai",
    "x-portkey-custom-host": `${emu.origin}/v1`,
  };
  const openai = (headers: Record<string, string>, stream: boolean): RequestSpec => ({
    path: "/v1/chat/completions",
    headers,
    body: json({
      model: REGULAR,
      messages: [{ role: "user", content: PROMPT }],
      ...(stream && { stream: true }),
    }),
    expect: stream ? "[DONE]" : LAST_WORD,
  });
  const serviceBody = json({ messages: [{ role: "user", content: PROMPT }] });
  const svcChat: RequestSpec = { path: "/chat", headers: H_JSON, body: serviceBody, expect: LAST_WORD };
  const svcStream: RequestSpec = {
    path: "/chat/stream",
    headers: H_JSON,
    body: serviceBody,
    expect: '"type":"done"',
  };
  const make = (info: TargetInfo, origin: string, child: Child, chat: RequestSpec, stream: RequestSpec) => ({
    ...info,
    origin,
    child,
    chat,
    stream,
    seqPool: pool(origin, 1),
    c50Pool: pool(origin, CONCURRENCY),
  });
  const targets: Target[] = [
    make(
      { key: "direct", label: "direct (emulator)", color: "#8c8c8c" },
      emu.origin,
      emu.child,
      openai(directHeaders, false),
      openai(directHeaders, true),
    ),
    make(
      { key: "service", label: "lmstudio-service", color: "#1f6feb" },
      svc.origin,
      svc.child,
      svcChat,
      svcStream,
    ),
    make(
      { key: "service_warn", label: "service, LOG_LEVEL=warn", color: "#79b8ff" },
      svcWarn.origin,
      svcWarn.child,
      svcChat,
      svcStream,
    ),
    make(
      { key: "service_no_metrics", label: "service, METRICS_ENABLED=false", color: "#a371f7" },
      svcNoMetrics.origin,
      svcNoMetrics.child,
      svcChat,
      svcStream,
    ),
    make(
      { key: "portkey", label: "Portkey gateway", color: "#e36209" },
      pk.origin,
      pk.child,
      openai(pkHeaders, false),
      openai(pkHeaders, true),
    ),
  ];
  const T = Object.fromEntries(targets.map((t) => [t.key, t])) as ByTarget<Target>;
  const byKey = <V>(f: (k: TargetKey) => V) =>
    Object.fromEntries(targets.map((t) => [t.key, f(t.key)])) as ByTarget<V>;
  const checkAlive = () => {
    for (const t of targets) assertAlive(t.child);
  };

  // ---------------------------------------------------------------- warm-up
  log("warm-up");
  for (const t of targets) {
    for (let i = 0; i < N.warm; i++) await timed(t.seqPool, t.chat);
    await burst(t.c50Pool, t.chat, N.warm * 2, CONCURRENCY);
  }
  await admin("/configure", { chunkDelayMs: STREAM_CHUNK_DELAY_MS });
  for (const t of targets) for (let i = 0; i < 20; i++) await timedStream(t.seqPool, t.stream);
  await admin("/configure", { chunkDelayMs: 0 });
  await admin("/clear", {});
  checkAlive();

  // ---------------------------------------------------------------- 1. sequential
  log(`1. sequential non-streaming chat: ${N.seq} requests per target, interleaved`);
  const seq = byKey<number[]>(() => []);
  const seqErr = byKey(() => new Errors());
  for (let i = 0; i < N.seq; i++) {
    for (const t of rotate(targets, i)) {
      try {
        seq[t.key].push(await timed(t.seqPool, t.chat));
      } catch (error) {
        seqErr[t.key].note(error);
      }
    }
  }
  const seqS = byKey((k) => summarize(seq[k]));
  await admin("/clear", {});
  checkAlive();

  // ---------------------------------------------------------------- 2. concurrency 50
  log(`2. concurrency ${CONCURRENCY}: ${N.c50} requests per target in ${N.c50Rounds} interleaved rounds`);
  const c50Lat = byKey<number[]>(() => []);
  const c50Wall = byKey(() => 0);
  const c50Cpu = byKey(() => ({ target: 0, emulator: 0 }));
  const c50Err = byKey(() => new Errors());
  for (let r = 0; r < N.c50Rounds; r++) {
    for (const t of rotate(targets, r)) {
      // Unmeasured: reopens the 50 connections (Portkey's server closes idle ones after 5 s).
      await burst(t.c50Pool, t.chat, CONCURRENCY, CONCURRENCY);
      const cpu0 = { target: cpuMs(t.child.pid), emulator: cpuMs(emu.child.pid) };
      const b = await burst(t.c50Pool, t.chat, Math.ceil(N.c50 / N.c50Rounds), CONCURRENCY);
      c50Cpu[t.key].target += cpuMs(t.child.pid) - cpu0.target;
      c50Cpu[t.key].emulator += cpuMs(emu.child.pid) - cpu0.emulator;
      c50Lat[t.key].push(...b.latencies);
      c50Wall[t.key] += b.wallMs;
      c50Err[t.key].count += b.errors;
      c50Err[t.key].first ??= b.firstError;
    }
    await admin("/clear", {});
  }
  const c50S = byKey((k) => summarize(c50Lat[k]));
  const c50Rps = byKey((k) => (c50Lat[k].length / c50Wall[k]) * 1000);
  checkAlive();

  // ---------------------------------------------------------------- 3. streaming
  log(`3. streaming, ${STREAM_CHUNKS} chunks ${STREAM_CHUNK_DELAY_MS} ms apart: ${N.stream} per target`);
  await admin("/configure", { chunkDelayMs: STREAM_CHUNK_DELAY_MS });
  const ttfb = byKey<number[]>(() => []);
  const total = byKey<number[]>(() => []);
  const streamErr = byKey(() => new Errors());
  for (let i = 0; i < N.stream; i++) {
    for (const t of rotate(targets, i)) {
      try {
        const s = await timedStream(t.seqPool, t.stream);
        ttfb[t.key].push(s.ttfb);
        total[t.key].push(s.total);
      } catch (error) {
        streamErr[t.key].note(error);
      }
    }
  }
  const ttfbS = byKey((k) => summarize(ttfb[k]));
  const totalS = byKey((k) => summarize(total[k]));
  await admin("/clear", {});
  checkAlive();

  // ---------------------------------------------------------------- 4. 1,000 open streams
  // On a service of its own (started now, warmed up with 200 chats), so that its peak RSS is what
  // the streams cost; then on the service that ran scenarios 1-3, whose heap those grew.
  log(`4. ${N.streams} concurrent streams through the service, 1 chunk every ${SLOW_CHUNK_DELAY_MS} ms`);
  const fresh = await startService(emu.origin, "info", "service_streams");
  await waitForHttp(fresh.origin, fresh.child);
  const freshTarget: Target = { ...T.service, origin: fresh.origin, child: fresh.child };
  const warmPool = pool(fresh.origin, 1);
  for (let i = 0; i < 200; i++) await timed(warmPool, svcChat);
  await warmPool.close();
  await admin("/configure", { chunkDelayMs: SLOW_CHUNK_DELAY_MS });
  const s4 = await manyStreams(freshTarget, N.streams);
  assertAlive(fresh.child);
  await stop(fresh.child);
  const s4Loaded = await manyStreams(T.service, N.streams);
  await admin("/clear", {});
  checkAlive();

  // ---------------------------------------------------------------- 5. 10 MB image
  log(`5. a 10 MB image: ${N.image} per target`);
  await admin("/configure", { chunkDelayMs: 0 });
  const s5 = await bigImage([T.direct, T.service, T.portkey], directHeaders, pkHeaders, svc.child.pid);
  checkAlive();

  // ---------------------------------------------------------------- 6. abort propagation
  log(`6. abort propagation, 1 chunk every ${SLOW_CHUNK_DELAY_MS} ms`);
  await admin("/configure", { chunkDelayMs: SLOW_CHUNK_DELAY_MS });
  const s6 = await aborts([T.direct, T.service, T.portkey], clock.offset);
  checkAlive();

  const load1 = os.loadavg();
  const hwm = hwmBytes(svc.child.pid);
  for (const t of targets) await Promise.all([t.seqPool.close(), t.c50Pool.close()]);

  // ---------------------------------------------------------------- results
  const added = (s: ByTarget<Summary>, k: TargetKey) => round(s[k].p50 - s.direct.p50);
  const r: Results = {
    seq_p50_ms: byKey((k) => round(seqS[k].p50)),
    seq_p99_ms: byKey((k) => round(seqS[k].p99)),
    seq_added_p50_ms: added(seqS, "service"),
    seq_added_p50_ms_by_target: byKey((k) => added(seqS, k)),
    seq_errors: byKey((k) => seqErr[k].count),
    c50_rps: byKey((k) => Math.round(c50Rps[k])),
    c50_p50_ms: byKey((k) => round(c50S[k].p50)),
    c50_p99_ms: byKey((k) => round(c50S[k].p99)),
    c50_errors: byKey((k) => c50Err[k].count),
    c50_target_cpu_cores: byKey((k) => round(c50Cpu[k].target / c50Wall[k])),
    stream_ttfb_p50_ms: byKey((k) => round(ttfbS[k].p50)),
    stream_ttfb_p99_ms: byKey((k) => round(ttfbS[k].p99)),
    stream_total_p50_ms: byKey((k) => round(totalS[k].p50)),
    stream_ttfb_added_ms: added(ttfbS, "service"),
    stream_ttfb_added_ms_by_target: byKey((k) => added(ttfbS, k)),
    stream_total_added_ms_by_target: byKey((k) => added(totalS, k)),
    stream_errors: byKey((k) => streamErr[k].count),
    streams_1000_count: N.streams,
    streams_1000_errors: s4.errors,
    streams_1000_first_error: s4.firstError ?? null,
    streams_1000_rss_mb: mb(s4.peakRss),
    streams_1000_rss_before_mb: mb(s4.rssBefore),
    streams_1000_peak_open: s4.peakOpen,
    streams_1000_cpu_us_per_chunk: round(s4.cpuUsPerChunk),
    streams_1000_wall_ms: Math.round(s4.wallMs),
    streams_1000_rss_mb_after_load: mb(s4Loaded.peakRss),
    streams_1000_rss_before_mb_after_load: mb(s4Loaded.rssBefore),
    streams_1000_errors_after_load: s4Loaded.errors,
    image_10mb_bytes: s5.imageBytes,
    image_10mb_p50_ms: s5.p50,
    image_10mb_added_ms: round((s5.p50.service ?? Number.NaN) - (s5.p50.direct ?? Number.NaN)),
    image_10mb_added_ms_portkey: round((s5.p50.portkey ?? Number.NaN) - (s5.p50.direct ?? Number.NaN)),
    image_10mb_rss_mb: mb(s5.peakRss),
    image_10mb_rss_before_mb: mb(s5.rssBefore),
    image_10mb_errors: s5.errors,
    abort_ms: s6.p50,
    abort_max_ms: s6.max,
    abort_outcomes: s6.outcomes,
    emulator: {
      seq_p50_ms: round(seqS.direct.p50),
      c50_rps: Math.round(c50Rps.direct),
      stream_ttfb_p50_ms: round(ttfbS.direct.p50),
      cpu_cores_while_serving: byKey((k) => round(c50Cpu[k].emulator / c50Wall[k])),
      note:
        "direct = the emulator alone; cpu_cores_while_serving = the emulator's CPU time (in cores) " +
        "during each target's concurrency-50 bursts",
    },
    service_rss_idle_mb: mb(rssIdle),
    service_rss_hwm_mb: mb(hwm),
    portkey_note: PORTKEY_NOTE,
    counts: N,
    node: process.version,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? "unknown",
    mem_gb: round(os.totalmem() / 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    loadavg_start: load0.map(round),
    loadavg_end: load1.map(round),
    date: started.toISOString(),
    duration_s: round(now() / 1000),
  };
  const output = { ...r, bars: bars(r) };
  const table = renderTable(r, targets);
  process.stdout.write(`\n${table}`);
  const errorsSeen = [seqErr, c50Err, streamErr].flatMap((e) =>
    targets.filter((t) => e[t.key].count > 0).map((t) => `${t.key}: ${e[t.key].count} (${e[t.key].first})`),
  );
  if (errorsSeen.length) process.stdout.write(`\nErrors: ${errorsSeen.join("; ")}\n`);

  const svg = renderChart({
    title: "What each hop adds: direct vs lmstudio-service vs Portkey's gateway",
    subtitle: `${r.date.slice(0, 16)}Z · Node ${r.node} · ${r.cpus} CPUs (${r.cpu_model}), shared · loopback · LM Studio emulator upstream`,
    curveTitle: `1. Sequential chat, ${N.seq} per target: latency by percentile`,
    series: targets.map((t) => ({
      label: t.label,
      color: t.color,
      sorted: [...seq[t.key]].sort((a, b) => a - b),
    })),
    groups: chartGroups(r, targets),
  });
  writeFileSync(join(OUT, "latency.svg"), svg);
  writeFileSync(join(OUT, "results.json"), `${JSON.stringify(output, null, 2)}\n`);
  writeFileSync(join(OUT, "table.md"), table);
  if (args.json) writeFileSync(args.json, `${JSON.stringify(output, null, 2)}\n`);
  if (args["update-docs"]) updateDocs(table);
  log(
    `done in ${r.duration_s} s; chart in bench/out/latency.svg${args.json ? `, JSON in ${args.json}` : ""}`,
  );

  // ---------------------------------------------------------------- scenario bodies

  async function manyStreams(t: Target, count: number) {
    const pid = t.child.pid;
    const p = pool(t.origin, count);
    // Open the connections first: the scenario is about open streams, not TCP handshakes.
    await Promise.all(
      Array.from({ length: count }, () =>
        p.request({ path: "/__bench_ready", method: "GET" }).then((res) => res.body.dump()),
      ),
    );
    const rssBefore = rssBytes(pid);
    const sampler = new RssSampler(pid, 20);
    const cpu0 = cpuMs(pid);
    let open = 0;
    let peakOpen = 0;
    let chunks = 0;
    const errors = new Errors();
    const t0 = now();
    await Promise.all(
      Array.from({ length: count }, async () => {
        try {
          const res = await p.request({
            path: t.stream.path,
            method: "POST",
            headers: t.stream.headers,
            body: t.stream.body,
          });
          open++;
          peakOpen = Math.max(peakOpen, open);
          let text = "";
          try {
            for await (const c of res.body) text += (c as Buffer).toString("utf8");
          } finally {
            open--;
          }
          const lines = text.split("\n").filter(Boolean);
          const fragments = lines.filter((l) => l.includes('"type":"fragment"')).length;
          chunks += fragments;
          const done = lines.at(-1)?.includes('"type":"done"') ?? false;
          if (res.statusCode !== 200 || fragments !== STREAM_CHUNKS || !done) {
            throw new RequestFailed(
              `HTTP ${res.statusCode}, ${fragments} fragments, last line ${lines.at(-1)}`,
            );
          }
        } catch (error) {
          errors.note(error);
        }
      }),
    );
    const wallMs = now() - t0;
    const cpu = cpuMs(pid) - cpu0;
    const peakRss = sampler.stop();
    await p.close();
    return {
      errors: errors.count,
      firstError: errors.first,
      peakOpen,
      peakRss,
      rssBefore,
      wallMs,
      cpuUsPerChunk: (cpu * 1000) / Math.max(1, chunks),
    };
  }

  async function bigImage(
    ts: Target[],
    direct: Record<string, string>,
    portkey: Record<string, string>,
    servicePid: number,
  ) {
    const png = makePng(IMAGE_BYTES);
    const b64 = png.toString("base64");
    const openaiImage = Buffer.from(
      json({
        model: VISION,
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Describe this image." },
              { type: "image_url", image_url: { url: `data:image/png;base64,${b64}` } },
            ],
          },
        ],
      }),
    );
    const serviceImage = Buffer.from(
      json({
        messages: [
          {
            role: "user",
            content: "Describe this image.",
            images: [{ data_base64: b64, mime_type: "image/png" }],
          },
        ],
      }),
    );
    const specs: SomeTargets<RequestSpec> = {
      direct: { path: "/v1/chat/completions", headers: direct, body: openaiImage, expect: LAST_WORD },
      portkey: { path: "/v1/chat/completions", headers: portkey, body: openaiImage, expect: LAST_WORD },
      service: { path: "/chat/vision", headers: H_JSON, body: serviceImage, expect: LAST_WORD },
    };
    const lat = byKey<number[]>(() => []);
    const errors: SomeTargets<number> = {};
    const rssBefore = rssBytes(servicePid);
    let sampler: RssSampler | undefined;
    for (let i = -1; i < N.image; i++) {
      if (i === 0) sampler = new RssSampler(servicePid, 10); // i = -1 is the warm-up
      for (const t of rotate(ts, Math.max(0, i))) {
        const spec = specs[t.key];
        if (!spec) continue;
        try {
          const ms = await timed(t.seqPool, spec);
          if (i >= 0) lat[t.key].push(ms);
        } catch (error) {
          errors[t.key] = (errors[t.key] ?? 0) + 1;
          log(`image via ${t.key}: ${String(error).slice(0, 200)}`);
        }
      }
      await admin("/clear", {}); // the emulator keeps request bodies
    }
    const peakRss = sampler?.stop() ?? Number.NaN;
    const p50: SomeTargets<number> = {};
    for (const t of ts) {
      p50[t.key] = round(summarize(lat[t.key]).p50);
      errors[t.key] ??= 0;
    }
    return { imageBytes: png.length, p50, errors, peakRss, rssBefore };
  }

  async function aborts(ts: Target[], offset: number) {
    interface ChatRecord {
      id: number;
      outcome: string;
      endedAt: number | null;
      chunksSent: number;
    }
    const ms = byKey<number[]>(() => []);
    const outcomes = byKey<string[]>(() => []);
    for (let i = 0; i < N.abort; i++) {
      for (const t of rotate(ts, i)) {
        if (t.key === "portkey" && i >= N.abortPk) continue;
        const { id: last } = await admin<{ id: number }>("/last-id");
        const { abortedAt } = await abortAfterFirstChunk(t.origin, t.stream);
        // The upstream's record of this chat leaves "pending" when it ends (a whole stream: 2 s).
        const deadline = now() + SLOW_CHUNK_DELAY_MS * (STREAM_CHUNKS + 10);
        let rec: ChatRecord | undefined;
        for (;;) {
          const res = await fetch(`${emu.admin}/chat?id=${last + 1}`);
          rec = res.ok ? ((await res.json()) as ChatRecord) : undefined;
          if ((rec && rec.outcome !== "pending") || now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        if (rec?.outcome === "cancelled" && rec.endedAt !== null) {
          ms[t.key].push(rec.endedAt - offset - abortedAt);
          outcomes[t.key].push("cancelled");
        } else if (rec && rec.endedAt !== null) {
          const after = Math.round(rec.endedAt - offset - abortedAt);
          outcomes[t.key].push(
            `${rec.outcome} ${after} ms after the abort, all ${rec.chunksSent} chunks generated`,
          );
        } else {
          outcomes[t.key].push(rec ? `still ${rec.outcome} after the deadline` : "no upstream record");
        }
      }
    }
    const p50: SomeTargets<number | null> = {};
    const max: SomeTargets<number | null> = {};
    const seen: SomeTargets<string[]> = {};
    for (const t of ts) {
      const all = [...ms[t.key]].sort((a, b) => a - b);
      const allCancelled = all.length > 0 && all.length === outcomes[t.key].length;
      p50[t.key] = allCancelled ? round(percentile(all, 50)) : null;
      max[t.key] = allCancelled ? round(all.at(-1) as number) : null;
      seen[t.key] = outcomes[t.key];
    }
    return { p50, max, outcomes: seen };
  }
}

function updateDocs(table: string): void {
  copyFileSync(join(OUT, "latency.svg"), join(ROOT, "bench", "latency.svg"));
  const doc = join(ROOT, "BENCHMARKS.md");
  if (!existsSync(doc)) return;
  const text = readFileSync(doc, "utf8");
  const start = "<!-- bench:table:start -->";
  const end = "<!-- bench:table:end -->";
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) {
    log("BENCHMARKS.md has no bench:table markers: not updated");
    return;
  }
  writeFileSync(doc, `${text.slice(0, i + start.length)}\n\n${table}\n${text.slice(j)}`);
  log("BENCHMARKS.md (table) and bench/latency.svg (chart) updated");
}

try {
  await main();
  await stopAll();
  process.exit(0);
} catch (error) {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  await stopAll();
  process.exit(1);
}
