/** The bench's figures: ratios to the floors, verdicts per target, the table, the chart's data. */
import type { aborts } from "../scenarios/aborts.ts";
import type { bigBody } from "../scenarios/big-body.ts";
import type { concurrency } from "../scenarios/concurrency.ts";
import type { manyStreamsScenario } from "../scenarios/many-streams.ts";
import type { sequential } from "../scenarios/sequential.ts";
import type { streaming } from "../scenarios/streaming.ts";
import type { BarGroup } from "./chart.ts";
import { round } from "./stats.ts";
import type { ByTarget, TargetInfo, TargetKey } from "./targets.ts";

export interface Results {
  targets: ByTarget<string>;
  sequential: Awaited<ReturnType<typeof sequential>>["result"];
  c50: Awaited<ReturnType<typeof concurrency>>;
  stream: Awaited<ReturnType<typeof streaming>>;
  streams_1000: Awaited<ReturnType<typeof manyStreamsScenario>> | undefined;
  image_10mb: Awaited<ReturnType<typeof bigBody>> | undefined;
  aborts: Awaited<ReturnType<typeof aborts>>;
  portkey_note: string;
  counts: Record<string, number>;
  machine: {
    node: string;
    cpus: number;
    cpu_model: string;
    mem_gb: number;
    kernel: string;
    loadavg_start: number[];
    loadavg_end: number[];
  };
  date: string;
  duration_s: number;
}

const nan = Number.NaN;

/** Each target's figures divided by (or minus) the floors' in the same run. */
export function ratios(r: Results) {
  const out: ByTarget<Record<string, number>> = {};
  // Every target any scenario measured: a run may leave some scenarios out (--scenarios).
  const keys = new Set([
    ...Object.keys(r.c50),
    ...Object.keys(r.sequential),
    ...Object.keys(r.stream),
    ...Object.keys(r.image_10mb?.targets ?? {}),
  ]) as Set<TargetKey>;
  for (const key of keys) {
    const vs = (floor: TargetKey) => ({
      c50_rps_ratio: round((r.c50[key]?.rps ?? nan) / (r.c50[floor]?.rps ?? nan)),
      seq_added_p50_minus_floor_ms: round(
        (r.sequential[key]?.added_p50_ms ?? nan) - (r.sequential[floor]?.added_p50_ms ?? nan),
      ),
      stream_ttfb_added_minus_floor_ms: round(
        (r.stream[key]?.ttfb_added_ms ?? nan) - (r.stream[floor]?.ttfb_added_ms ?? nan),
      ),
      stream_total_added_minus_floor_ms: round(
        (r.stream[key]?.total_added_ms ?? nan) - (r.stream[floor]?.total_added_ms ?? nan),
      ),
      image_added_ratio: round(
        (r.image_10mb?.targets[key]?.added_p50_ms ?? nan) /
          (r.image_10mb?.targets[floor]?.added_p50_ms ?? nan),
      ),
    });
    const prefix = (o: Record<string, number>, p: string) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p}${k}`, v]));
    out[key] = { ...prefix(vs("floor"), "floor_"), ...prefix(vs("floor_fastify"), "fastify_floor_") };
  }
  return out;
}

export interface Verdict {
  target: TargetKey;
  bar: string;
  value: string;
  pass: boolean;
}

export function verdicts(r: Results): Verdict[] {
  const q = ratios(r);
  const v: Verdict[] = [];
  const add = (target: TargetKey, bar: string, value: string, pass: boolean) =>
    v.push({ target, bar, value, pass });
  const svc = q.service ?? {};
  const v1 = q.service_v1 ?? {};
  const pk = q.portkey ?? {};
  const ok = (n: number | undefined, f: (n: number) => boolean) =>
    n !== undefined && Number.isFinite(n) && f(n);
  // /v1 against the floor.
  add(
    "service_v1",
    "sequential added p50 within 0.3 ms of the floor's",
    `${v1.floor_seq_added_p50_minus_floor_ms} ms`,
    ok(v1.floor_seq_added_p50_minus_floor_ms, (n) => n <= 0.3),
  );
  add(
    "service_v1",
    "c50 req/s ≥ 0.8 × the floor's",
    `${r.c50.service_v1?.rps} vs ${r.c50.floor?.rps} (×${v1.floor_c50_rps_ratio})`,
    ok(v1.floor_c50_rps_ratio, (n) => n >= 0.8) && r.c50.service_v1?.errors === 0,
  );
  add(
    "service_v1",
    "stream TTFB added within 0.3 ms of the floor's",
    `${v1.floor_stream_ttfb_added_minus_floor_ms} ms`,
    ok(v1.floor_stream_ttfb_added_minus_floor_ms, (n) => n <= 0.3),
  );
  const img = r.image_10mb?.targets ?? {};
  add(
    "service_v1",
    "10 MB body: peak RSS growth < 2 × its size",
    `${img.service_v1?.rss_growth_mb} MB (×${img.service_v1?.rss_growth_x_body})`,
    ok(img.service_v1?.rss_growth_x_body, (n) => n < 2) && img.service_v1?.errors === 0,
  );
  // The reference /chat against the Fastify floor.
  add(
    "service",
    "c50 req/s ≥ 0.5 × the Fastify floor's",
    `${r.c50.service?.rps} vs ${r.c50.floor_fastify?.rps} (×${svc.fastify_floor_c50_rps_ratio})`,
    ok(svc.fastify_floor_c50_rps_ratio, (n) => n >= 0.5) && r.c50.service?.errors === 0,
  );
  add(
    "service",
    "sequential added p50 within 0.5 ms of the Fastify floor's",
    `${svc.fastify_floor_seq_added_p50_minus_floor_ms} ms`,
    ok(svc.fastify_floor_seq_added_p50_minus_floor_ms, (n) => n <= 0.5),
  );
  add(
    "service",
    "stream TTFB added within 0.5 ms of the Fastify floor's",
    `${svc.fastify_floor_stream_ttfb_added_minus_floor_ms} ms`,
    ok(svc.fastify_floor_stream_ttfb_added_minus_floor_ms, (n) => n <= 0.5),
  );
  // A floor that measured no added time (direct was slower, by noise) gives no ratio to judge by.
  const floorImageAdded = img.floor_fastify?.added_p50_ms;
  const imageComparable = floorImageAdded !== undefined && floorImageAdded > 0;
  add(
    "service",
    "10 MB image: added time ≤ 2 × the Fastify floor's",
    `${img.service?.added_p50_ms} vs ${floorImageAdded} ms ${
      imageComparable
        ? `(×${svc.fastify_floor_image_added_ratio})`
        : "(the floor added nothing measurable: no ratio)"
    }`,
    imageComparable && ok(svc.fastify_floor_image_added_ratio, (n) => n <= 2) && img.service?.errors === 0,
  );
  add(
    "service",
    "10 MB image: peak RSS growth < 3 × the body size",
    `${img.service?.rss_growth_mb} MB (×${img.service?.rss_growth_x_body})`,
    ok(img.service?.rss_growth_x_body, (n) => n < 3),
  );
  const s4 = r.streams_1000;
  if (s4)
    add(
      "service",
      `${s4.count} concurrent streams: 0 errors, peak RSS ≤ 250 MB`,
      `${s4.fresh_service.errors} errors, ${s4.fresh_service.rss_peak_mb} MB (after 1-3: ${s4.after_scenarios_1_3?.errors} errors, ${s4.after_scenarios_1_3?.rss_peak_mb} MB)`,
      s4.fresh_service.errors === 0 &&
        s4.after_scenarios_1_3?.errors === 0 &&
        s4.fresh_service.rss_peak_mb <= 250,
    );
  const ab = r.aborts.service?.max_ms;
  add(
    "service",
    "abort reaches the upstream ≤ 100 ms (worst try)",
    ab === null || ab === undefined ? "never" : `${ab} ms (p50 ${r.aborts.service?.p50_ms} ms)`,
    ok(ab ?? undefined, (n) => n <= 100),
  );
  const ahead = [
    (r.sequential.service?.added_p50_ms ?? nan) < (r.sequential.portkey?.added_p50_ms ?? nan),
    (r.c50.service?.rps ?? nan) > (r.c50.portkey?.rps ?? nan),
    (r.stream.service?.ttfb_added_ms ?? nan) < (r.stream.portkey?.ttfb_added_ms ?? nan),
    (img.service?.added_p50_ms ?? nan) < (img.portkey?.added_p50_ms ?? nan),
    r.aborts.portkey?.max_ms === null || (ab ?? nan) < (r.aborts.portkey?.max_ms ?? nan),
  ];
  add(
    "service",
    "ahead of Portkey on every figure (seq, c50, TTFB, image, abort)",
    ahead.map((a) => (a ? "yes" : "no")).join(" / "),
    ahead.every(Boolean),
  );
  // Metrics cost.
  const metricsCost = 1 - (r.c50.service?.rps ?? nan) / (r.c50.service_no_metrics?.rps ?? nan);
  add(
    "service",
    "c50 req/s with metrics within 3 % of METRICS_ENABLED=false",
    `${r.c50.service?.rps} vs ${r.c50.service_no_metrics?.rps} (${round(metricsCost * 100)} %)`,
    ok(metricsCost, (n) => n <= 0.03),
  );
  // Ollama: reported against the floor, no bar of its own.
  add(
    "service_ollama",
    "streaming overhead vs the floor (TTFB, total): reported, no bar",
    `TTFB +${r.stream.service_ollama?.ttfb_added_ms} ms (floor +${r.stream.floor?.ttfb_added_ms}), total +${r.stream.service_ollama?.total_added_ms} ms (floor +${r.stream.floor?.total_added_ms})`,
    true,
  );
  void pk;
  return v;
}

const dash = "–";
const ms = (v: number | null | undefined) =>
  v === null || v === undefined || Number.isNaN(v) ? dash : `${v} ms`;
const plus = (v: number | undefined) =>
  v === undefined || Number.isNaN(v) ? dash : `${v >= 0 ? "+" : ""}${v} ms`;
const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? dash : String(v));

export function renderTable(r: Results, targets: readonly TargetInfo[]): string {
  const q = ratios(r);
  const keys = targets.map((t) => t.key);
  const row = (name: string, f: (k: TargetKey) => string) => `| ${name} | ${keys.map(f).join(" | ")} |`;
  const c = r.counts;
  const img = r.image_10mb?.targets ?? {};
  const main = [
    `| scenario | ${targets.map((t) => t.label).join(" | ")} |`,
    `|---|${keys.map(() => "---:").join("|")}|`,
    row(`1. sequential, p50 (${c.seq} each)`, (k) => ms(r.sequential[k]?.p50_ms)),
    row("1. sequential, p99", (k) => ms(r.sequential[k]?.p99_ms)),
    row("1. **added p50 vs direct**", (k) => (k === "direct" ? dash : plus(r.sequential[k]?.added_p50_ms))),
    row(`2. concurrency 50, **req/s** (${c.c50} each)`, (k) => num(r.c50[k]?.rps)),
    row("2. ratio to the floor / Fastify floor", (k) =>
      k === "direct"
        ? dash
        : `×${num(q[k]?.floor_c50_rps_ratio)} / ×${num(q[k]?.fastify_floor_c50_rps_ratio)}`,
    ),
    row("2. concurrency 50, p50", (k) => ms(r.c50[k]?.p50_ms)),
    row("2. concurrency 50, p99", (k) => ms(r.c50[k]?.p99_ms)),
    row("2. CPU of the target process (cores)", (k) => num(r.c50[k]?.cpu_cores)),
    row(`3. stream, TTFB p50 (${c.stream} each)`, (k) => ms(r.stream[k]?.ttfb_p50_ms)),
    row("3. stream, **TTFB added vs direct**", (k) =>
      k === "direct" ? dash : plus(r.stream[k]?.ttfb_added_ms),
    ),
    row("3. stream, total p50 (20 chunks, 2 ms apart)", (k) => ms(r.stream[k]?.total_p50_ms)),
    row("3. stream, total added vs direct", (k) =>
      k === "direct" ? dash : plus(r.stream[k]?.total_added_ms),
    ),
    row(`5. 10 MB image, p50 (${c.image} each)`, (k) => ms(img[k]?.p50_ms)),
    row("5. 10 MB image, added vs direct", (k) => (k === "direct" ? dash : plus(img[k]?.added_p50_ms))),
    row("5. 10 MB image, peak RSS growth", (k) =>
      k === "direct" || img[k] === undefined ? dash : `${img[k]?.rss_growth_mb} MB`,
    ),
    row("6. client abort → upstream cancel, p50", (k) =>
      r.aborts[k] === undefined
        ? dash
        : r.aborts[k]?.p50_ms === null
          ? "not propagated"
          : ms(r.aborts[k]?.p50_ms),
    ),
    row("6. client abort → upstream cancel, max", (k) => ms(r.aborts[k]?.max_ms)),
    row(
      "errors in 1 / 2 / 3",
      (k) => `${num(r.sequential[k]?.errors)} / ${num(r.c50[k]?.errors)} / ${num(r.stream[k]?.errors)}`,
    ),
  ];
  const s4 = r.streams_1000;
  const more = !s4
    ? []
    : [
        "",
        `| 4. ${s4.count} concurrent /chat/stream (20 chunks, 100 ms apart) | a service of its own | the service that ran 1–3 |`,
        "|---|---:|---:|",
        `| errors | ${s4.fresh_service.errors} | ${s4.after_scenarios_1_3?.errors ?? dash} |`,
        `| RSS before → **peak** | ${s4.fresh_service.rss_before_mb} → ${s4.fresh_service.rss_peak_mb} MB | ${s4.after_scenarios_1_3?.rss_before_mb} → ${s4.after_scenarios_1_3?.rss_peak_mb} MB |`,
        `| CPU per streamed chunk | ${s4.fresh_service.cpu_us_per_chunk} µs | ${s4.after_scenarios_1_3?.cpu_us_per_chunk} µs |`,
        `| wall time | ${s4.fresh_service.wall_ms} ms | ${s4.after_scenarios_1_3?.wall_ms} ms |`,
      ];
  const bars = [
    "",
    "| target | bar | measured | |",
    "|---|---|---|---|",
    ...verdicts(r).map(
      (b) =>
        `| ${targets.find((t) => t.key === b.target)?.label ?? b.target} | ${b.bar} | ${b.value} | ${b.pass ? "holds" : "**does not hold**"} |`,
    ),
  ];
  const m = r.machine;
  const pk = (r.aborts.portkey?.outcomes ?? []).join("; ");
  const foot = [
    "",
    `Portkey: ${r.portkey_note}. What the upstream saw after a client abort through Portkey: ${pk || dash}.`,
    "",
    `Machine: Node ${m.node}, ${m.cpus} CPUs (${m.cpu_model}), ${m.mem_gb} GiB RAM, ${m.kernel}; **load average ${m.loadavg_start.join(" ")} at the start, ${m.loadavg_end.join(" ")} at the end** (shared machine); ${r.date}; ${r.duration_s} s.`,
  ];
  return `${[...main, ...more, ...bars, ...foot].join("\n")}\n`;
}

export function chartGroups(r: Results, targets: readonly TargetInfo[]): BarGroup[] {
  const bars = (f: (k: TargetKey) => number | null | undefined) =>
    targets
      .map((t) => ({ label: t.label, color: t.color, value: f(t.key) ?? null }))
      .filter((b) => b.value !== null && !Number.isNaN(b.value));
  return [
    { title: "1. Sequential chat: p50", unit: "ms", bars: bars((k) => r.sequential[k]?.p50_ms) },
    { title: "2. Concurrency 50: throughput", unit: "req/s", bars: bars((k) => r.c50[k]?.rps) },
    { title: "2. Concurrency 50: p50", unit: "ms", bars: bars((k) => r.c50[k]?.p50_ms) },
    {
      title: "3. Streaming: time to first byte, p50",
      unit: "ms",
      bars: bars((k) => r.stream[k]?.ttfb_p50_ms),
    },
    { title: "5. 10 MB image: p50", unit: "ms", bars: bars((k) => r.image_10mb?.targets[k]?.p50_ms) },
  ];
}
