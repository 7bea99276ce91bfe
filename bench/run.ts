/**
 * npm run bench [-- --quick] [-- --json FILE] [-- --update-docs] [-- --only NAME,...]
 *
 * What lmstudio-service adds on top of LM Studio, beside the floors and Portkey, in one run: the
 * emulator (direct), a bare node:http + undici pass-through (floor), one Fastify route + undici
 * (Fastify floor), the service (/chat, /v1, /api/chat; and a METRICS_ENABLED=false twin), Portkey's
 * gateway. Scenarios are in bench/scenarios/; the method is in BENCHMARKS.md. Every child exits with
 * this process (stdin pipe + bench/watchdog.ts).
 *   --quick        small counts (about 40 s here), for development
 *   --json FILE    the figures as JSON (also in bench/out/results.json)
 *   --update-docs  writes the table into BENCHMARKS.md and the chart to bench/latency.svg
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { renderChart } from "./lib/chart.ts";
import { createContext, FULL, log, QUICK } from "./lib/context.ts";
import { now } from "./lib/load.ts";
import { stopAll } from "./lib/processes.ts";
import { chartGroups, type Results, ratios, renderTable, verdicts } from "./lib/report.ts";
import { round } from "./lib/stats.ts";
import { OUT, PORTKEY_NOTE, ROOT, startEmulator, startTargets } from "./lib/targets.ts";
import { aborts } from "./scenarios/aborts.ts";
import { bigBody } from "./scenarios/big-body.ts";
import { concurrency } from "./scenarios/concurrency.ts";
import { manyStreamsScenario } from "./scenarios/many-streams.ts";
import { sequential } from "./scenarios/sequential.ts";
import { streaming } from "./scenarios/streaming.ts";
import { warmUp } from "./scenarios/warm-up.ts";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "string" },
    "update-docs": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
    scenario: { type: "string" },
    /** name=DIR: DIR/src/main.ts as one more /chat target (a checkout before a change). */
    variant: { type: "string", multiple: true, default: [] },
    /** Comma-separated: seq,c50,stream,streams,image,abort (default: all). */
    scenarios: { type: "string" },
  },
});
if (args.help) {
  console.log(
    "usage: npm run bench [-- --quick] [-- --json FILE] [-- --update-docs] [-- --variant NAME=DIR ...] [-- --scenarios seq,c50,stream,streams,image,abort] [-- --scenario two-upstreams]",
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
mkdirSync(OUT, { recursive: true });
/** The whole run stops itself after this, whatever happens. */
const HARD_LIMIT_MS = 420_000;
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

async function main(): Promise<void> {
  const started = new Date();
  const load0 = os.loadavg();
  const n = args.quick ? QUICK : FULL;
  log(
    `starting the emulator, the floors, the service (twice) and Portkey (${args.quick ? "quick" : "full"} run)`,
  );
  const emu = await startEmulator();
  const variants = (args.variant ?? []).map((v) => {
    const [name = "", dir = ""] = v.split("=");
    return { name, dir };
  });
  const targets = await startTargets(emu, variants);
  const want = (s: string) => args.scenarios === undefined || args.scenarios.split(",").includes(s);
  const ctx = createContext(n, args.quick, emu, targets);

  await warmUp(ctx);
  const seq = want("seq") ? await sequential(ctx) : { samples: {}, result: {} };
  const c50 = want("c50") ? await concurrency(ctx) : {};
  const stream = want("stream") ? await streaming(ctx) : {};
  const streams = want("streams") ? await manyStreamsScenario(ctx) : undefined;
  const image = want("image") ? await bigBody(ctx) : undefined;
  const abort = want("abort") ? await aborts(ctx) : {};
  const load1 = os.loadavg();
  for (const t of targets) await Promise.all([t.seqPool.close(), t.c50Pool.close()]);

  const r: Results = {
    targets: Object.fromEntries(targets.map((t) => [t.key, t.label])),
    sequential: seq.result,
    c50,
    stream,
    streams_1000: streams,
    image_10mb: image,
    aborts: abort,
    portkey_note: PORTKEY_NOTE,
    counts: { ...n },
    machine: {
      node: process.version,
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? "unknown",
      mem_gb: round(os.totalmem() / 1024 ** 3),
      kernel: `${os.type()} ${os.release()}`,
      loadavg_start: load0.map(round),
      loadavg_end: load1.map(round),
    },
    date: started.toISOString(),
    duration_s: round(now() / 1000),
  };
  const output = { ...r, ratios: ratios(r), verdicts: verdicts(r) };
  const table = renderTable(r, targets);
  process.stdout.write(`\n${table}`);

  const svg = renderChart({
    title: "What each hop adds: direct, the floors, lmstudio-service, Portkey",
    subtitle: `${r.date.slice(0, 16)}Z · Node ${r.machine.node} · ${r.machine.cpus} CPUs (${r.machine.cpu_model}), shared, load ${r.machine.loadavg_start[0]} · loopback · LM Studio emulator upstream`,
    curveTitle: `1. Sequential chat, ${n.seq} per target: latency by percentile`,
    series: targets
      .filter((t) => seq.samples[t.key])
      .map((t) => ({
        label: t.label,
        color: t.color,
        sorted: [...(seq.samples[t.key] ?? [])].sort((a, b) => a - b),
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
