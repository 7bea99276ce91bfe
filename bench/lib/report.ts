/** The bench's figures: their shape (the JSON keys of issue 5), the table, the chart's data, the bars. */
import type { BarGroup } from "./chart.ts";
import { round } from "./stats.ts";

export const TARGET_KEYS = ["direct", "service", "service_warn", "service_no_metrics", "portkey"] as const;
export type TargetKey = (typeof TARGET_KEYS)[number];
export type ByTarget<V> = Record<TargetKey, V>;
/** Only some targets run scenarios 5 and 6. */
export type SomeTargets<V> = Partial<Record<TargetKey, V>>;

export interface TargetInfo {
  key: TargetKey;
  label: string;
  color: string;
}

export interface Results {
  seq_p50_ms: ByTarget<number>;
  seq_p99_ms: ByTarget<number>;
  seq_added_p50_ms: number;
  seq_added_p50_ms_by_target: ByTarget<number>;
  seq_errors: ByTarget<number>;
  c50_rps: ByTarget<number>;
  c50_p50_ms: ByTarget<number>;
  c50_p99_ms: ByTarget<number>;
  c50_errors: ByTarget<number>;
  c50_target_cpu_cores: ByTarget<number>;
  stream_ttfb_p50_ms: ByTarget<number>;
  stream_ttfb_p99_ms: ByTarget<number>;
  stream_total_p50_ms: ByTarget<number>;
  stream_ttfb_added_ms: number;
  stream_ttfb_added_ms_by_target: ByTarget<number>;
  stream_total_added_ms_by_target: ByTarget<number>;
  stream_errors: ByTarget<number>;
  streams_1000_count: number;
  streams_1000_errors: number;
  streams_1000_first_error: string | null;
  streams_1000_rss_mb: number;
  streams_1000_rss_before_mb: number;
  streams_1000_peak_open: number;
  streams_1000_cpu_us_per_chunk: number;
  streams_1000_wall_ms: number;
  /** The same scenario on the service that had run scenarios 1-3 (its heap grown by them). */
  streams_1000_rss_mb_after_load: number;
  streams_1000_rss_before_mb_after_load: number;
  streams_1000_errors_after_load: number;
  image_10mb_bytes: number;
  image_10mb_p50_ms: SomeTargets<number>;
  image_10mb_added_ms: number;
  image_10mb_added_ms_portkey: number;
  image_10mb_rss_mb: number;
  image_10mb_rss_before_mb: number;
  image_10mb_errors: SomeTargets<number>;
  /** Median time from the client's abort to the upstream's cancel; null: the cancel never came. */
  abort_ms: SomeTargets<number | null>;
  abort_max_ms: SomeTargets<number | null>;
  abort_outcomes: SomeTargets<string[]>;
  emulator: {
    seq_p50_ms: number;
    c50_rps: number;
    stream_ttfb_p50_ms: number;
    cpu_cores_while_serving: ByTarget<number>;
    note: string;
  };
  service_rss_idle_mb: number;
  service_rss_hwm_mb: number;
  portkey_note: string;
  counts: Record<string, number>;
  node: string;
  cpus: number;
  cpu_model: string;
  mem_gb: number;
  kernel: string;
  loadavg_start: number[];
  loadavg_end: number[];
  date: string;
  duration_s: number;
}

export interface Bar {
  bar: string;
  value: string;
  pass: boolean;
}

export function bars(r: Results): Bar[] {
  const ratio = r.c50_rps.service / r.c50_rps.portkey;
  const metricsCost = 1 - r.c50_rps.service / r.c50_rps.service_no_metrics;
  const abortMax = r.abort_max_ms.service;
  return [
    {
      bar: "seq_added_p50_ms ≤ 1.0",
      value: `${r.seq_added_p50_ms} ms (Portkey: ${r.seq_added_p50_ms_by_target.portkey} ms)`,
      pass: r.seq_added_p50_ms <= 1.0 && r.seq_errors.service === 0,
    },
    {
      bar: "c50_rps: service ≥ 2 × Portkey",
      value: `${r.c50_rps.service} vs ${r.c50_rps.portkey} req/s (×${round(ratio)})`,
      pass: ratio >= 2 && r.c50_errors.service === 0,
    },
    {
      bar: "metrics cost: c50_rps with metrics within 3 % of METRICS_ENABLED=false",
      value: `${r.c50_rps.service} vs ${r.c50_rps.service_no_metrics} req/s (${round(metricsCost * 100)} %)`,
      pass: metricsCost <= 0.03,
    },
    {
      bar: "stream_ttfb_added_ms ≤ 1.0",
      value: `${r.stream_ttfb_added_ms} ms (Portkey: ${r.stream_ttfb_added_ms_by_target.portkey} ms)`,
      pass: r.stream_ttfb_added_ms <= 1.0 && r.stream_errors.service === 0,
    },
    {
      bar: "streams_1000_errors = 0",
      value: `${r.streams_1000_errors} of ${r.streams_1000_count} (after load: ${r.streams_1000_errors_after_load})`,
      pass: r.streams_1000_errors === 0 && r.streams_1000_errors_after_load === 0,
    },
    {
      bar: "streams_1000_rss_mb ≤ 250",
      value: `${r.streams_1000_rss_mb} MB (after load: ${r.streams_1000_rss_mb_after_load} MB)`,
      pass: r.streams_1000_rss_mb <= 250,
    },
    {
      bar: "abort reaches the upstream ≤ 100 ms (service, worst try)",
      value:
        abortMax === null || abortMax === undefined
          ? "never"
          : `${abortMax} ms (p50 ${r.abort_ms.service} ms)`,
      pass: abortMax !== null && abortMax !== undefined && abortMax <= 100,
    },
  ];
}

const dash = "–";
const ms = (v: number | null | undefined) =>
  v === null || v === undefined || Number.isNaN(v) ? dash : `${v} ms`;
const plus = (v: number) => (Number.isNaN(v) ? dash : `${v >= 0 ? "+" : ""}${v} ms`);

export function renderTable(r: Results, targets: readonly TargetInfo[]): string {
  const keys = targets.map((t) => t.key);
  const row = (name: string, f: (k: TargetKey) => string) => `| ${name} | ${keys.map(f).join(" | ")} |`;
  const added = (by: ByTarget<number>) => (k: TargetKey) => (k === "direct" ? dash : plus(by[k]));
  const abort = (by: SomeTargets<number | null>, never: string) => (k: TargetKey) =>
    !(k in by) ? dash : by[k] === null ? never : ms(by[k]);
  const c = r.counts;
  const main = [
    `| scenario | ${targets.map((t) => t.label).join(" | ")} |`,
    `|---|${keys.map(() => "---:").join("|")}|`,
    row(`1. sequential, p50 (${c.seq} each)`, (k) => ms(r.seq_p50_ms[k])),
    row("1. sequential, p99", (k) => ms(r.seq_p99_ms[k])),
    row("1. **added p50 vs direct**", added(r.seq_added_p50_ms_by_target)),
    row(`2. concurrency 50, **req/s** (${c.c50} each)`, (k) => String(r.c50_rps[k])),
    row("2. concurrency 50, p50", (k) => ms(r.c50_p50_ms[k])),
    row("2. concurrency 50, p99", (k) => ms(r.c50_p99_ms[k])),
    row("2. CPU of the target during it (cores)", (k) => String(r.c50_target_cpu_cores[k])),
    row("2. CPU of the emulator during it (cores)", (k) => String(r.emulator.cpu_cores_while_serving[k])),
    row(`3. stream, time to first byte p50 (${c.stream} each)`, (k) => ms(r.stream_ttfb_p50_ms[k])),
    row("3. stream, **TTFB added vs direct**", added(r.stream_ttfb_added_ms_by_target)),
    row("3. stream, total p50 (20 chunks, 2 ms apart)", (k) => ms(r.stream_total_p50_ms[k])),
    row("3. stream, total added vs direct", added(r.stream_total_added_ms_by_target)),
    row(`5. 10 MB image, p50 (${c.image} each)`, (k) => ms(r.image_10mb_p50_ms[k])),
    row("6. client abort → upstream cancel, p50", abort(r.abort_ms, "not propagated")),
    row("6. client abort → upstream cancel, max", abort(r.abort_max_ms, dash)),
    row("errors in 1 / 2 / 3", (k) => `${r.seq_errors[k]} / ${r.c50_errors[k]} / ${r.stream_errors[k]}`),
  ];
  const more = [
    "",
    `| 4. ${r.streams_1000_count} concurrent streams through the service (20 chunks, 100 ms apart) | |`,
    "|---|---:|",
    `| errors | ${r.streams_1000_errors}${r.streams_1000_first_error ? ` (${r.streams_1000_first_error})` : ""} |`,
    `| streams open at once (client side) | ${r.streams_1000_peak_open} |`,
    `| service RSS before → **peak** (a service of its own, warmed up) | ${r.streams_1000_rss_before_mb} → ${r.streams_1000_rss_mb} MB |`,
    `| the same on the service that ran scenarios 1–3 | ${r.streams_1000_rss_before_mb_after_load} → ${r.streams_1000_rss_mb_after_load} MB, ${r.streams_1000_errors_after_load} errors |`,
    `| service CPU per streamed chunk | ${r.streams_1000_cpu_us_per_chunk} µs |`,
    `| wall time | ${r.streams_1000_wall_ms} ms |`,
    "",
    `| 5. one ${(r.image_10mb_bytes / 2 ** 20).toFixed(1)} MiB PNG, base64 in JSON | |`,
    "|---|---:|",
    `| added p50 vs direct: service (/chat/vision) | ${plus(r.image_10mb_added_ms)} |`,
    `| added p50 vs direct: Portkey | ${plus(r.image_10mb_added_ms_portkey)} |`,
    `| service RSS before → **peak** | ${r.image_10mb_rss_before_mb} → ${r.image_10mb_rss_mb} MB |`,
    "",
    `Service RSS: ${r.service_rss_idle_mb} MB idle after start, ${r.service_rss_hwm_mb} MB high-water mark (VmHWM) at the end.`,
    `The emulator alone (direct): ${r.emulator.seq_p50_ms} ms p50 sequential, ${r.emulator.c50_rps} req/s at concurrency 50, ${r.emulator.stream_ttfb_p50_ms} ms to the first streamed byte; it used at most ${Math.max(...Object.values(r.emulator.cpu_cores_while_serving).filter((_, i) => keys[i] !== "direct"))} of a core while serving the gateways, so it was never the bottleneck.`,
  ];
  const barLines = [
    "",
    "| bar (issue 5) | measured | |",
    "|---|---|---|",
    ...bars(r).map((b) => `| ${b.bar} | ${b.value} | ${b.pass ? "PASS" : "**FAIL**"} |`),
  ];
  const pk = (r.abort_outcomes.portkey ?? []).join("; ");
  const foot = [
    "",
    `Portkey: ${r.portkey_note}. What the upstream saw after a client abort through Portkey: ${pk || dash}.`,
    "",
    `Machine: Node ${r.node}, ${r.cpus} CPUs (${r.cpu_model}), ${r.mem_gb} GiB RAM, ${r.kernel}; load average ${r.loadavg_start.join(" ")} at the start and ${r.loadavg_end.join(" ")} at the end (the machine is shared); ${r.date}; ${r.duration_s} s.`,
  ];
  return `${[...main, ...more, ...barLines, ...foot].join("\n")}\n`;
}

export interface ChartSummaries {
  seqP50: ByTarget<number>;
  c50P50: ByTarget<number>;
  ttfbP50: ByTarget<number>;
  totalP50: ByTarget<number>;
}

export function chartGroups(r: Results, targets: readonly TargetInfo[]): BarGroup[] {
  const short = (t: TargetInfo) =>
    t.label.replace(", LOG_LEVEL=", " ").replace(", METRICS_ENABLED=", " metrics ");
  const bars = (f: (k: TargetKey) => number | null | undefined, only?: readonly TargetKey[]) =>
    targets
      .filter((t) => !only || only.includes(t.key))
      .map((t) => ({ label: short(t), color: t.color, value: f(t.key) ?? null }));
  return [
    { title: "1. Sequential chat: p50", unit: "ms", bars: bars((k) => r.seq_p50_ms[k]) },
    { title: "2. Concurrency 50: throughput", unit: "req/s", bars: bars((k) => r.c50_rps[k]) },
    { title: "2. Concurrency 50: p50", unit: "ms", bars: bars((k) => r.c50_p50_ms[k]) },
    {
      title: "3. Streaming: time to first byte, p50",
      unit: "ms",
      bars: bars((k) => r.stream_ttfb_p50_ms[k]),
    },
    {
      title: "5. 10 MB image: p50",
      unit: "ms",
      bars: bars((k) => r.image_10mb_p50_ms[k], ["direct", "service", "portkey"]),
    },
  ];
}
