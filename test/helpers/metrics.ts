/** Reads /metrics with a real Prometheus text parser, and the values of one series. */
import parsePrometheusTextFormat, { type PromFamily, type PromSample } from "parse-prometheus-text-format";

export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  /** Every family by name, with its type. */
  families: Map<string, PromFamily>;
  /** Histograms' `_bucket`, `_sum` and `_count` samples as families of their own (see below). */
  histogramSamples: Map<string, PromFamily>;
}

export async function scrape(baseUrl: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`, { headers });
  const text = await res.text();
  const families = new Map<string, PromFamily>();
  const histogramSamples = new Map<string, PromFamily>();
  if (res.status === 200) {
    for (const f of parsePrometheusTextFormat(text)) families.set(f.name, f);
    // The parser folds a labelled histogram's series into one (all their buckets together, no sum
    // or count): declared untyped, its _bucket, _sum and _count lines parse as families of their own,
    // one per series (each series' lines come together), so families of one name are merged.
    const untyped = text.replace(/^# TYPE (\S+) histogram$/gm, "# TYPE $1 untyped");
    for (const f of parsePrometheusTextFormat(untyped)) {
      const seen = histogramSamples.get(f.name);
      if (seen) seen.metrics.push(...f.metrics);
      else histogramSamples.set(f.name, f);
    }
  }
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    text,
    families,
    histogramSamples,
  };
}

const sameLabels = (sample: PromSample, labels: Record<string, string>) => {
  const have = sample.labels ?? {};
  const keys = Object.keys(have);
  return keys.length === Object.keys(labels).length && keys.every((k) => have[k] === labels[k]);
};

function series(s: Scrape, name: string, labels: Record<string, string>): PromSample | undefined {
  const family = s.families.get(name);
  if (!family) throw new Error(`${name} is not in /metrics`);
  return family.metrics.find((m) => sameLabels(m, labels));
}

/** A counter's or gauge's value; 0 for a series that does not exist (yet). */
export function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const sample = series(s, name, labels);
  return sample?.value === undefined ? 0 : Number(sample.value);
}

export interface HistogramValue {
  count: number;
  sum: number;
  /** Cumulative count per upper bound (`le`), "+Inf" included. */
  buckets: Record<string, number>;
}

/** One histogram series (zero when it does not exist yet). */
export function histogram(s: Scrape, name: string, labels: Record<string, string> = {}): HistogramValue {
  if (s.families.get(name)?.type !== "HISTOGRAM") throw new Error(`${name} is not a histogram in /metrics`);
  const samples = (suffix: string) => s.histogramSamples.get(`${name}${suffix}`)?.metrics ?? [];
  const buckets: Record<string, number> = {};
  for (const m of samples("_bucket")) {
    const { le, ...rest } = m.labels ?? {};
    if (le !== undefined && sameLabels({ labels: rest }, labels)) buckets[le] = Number(m.value);
  }
  const one = (suffix: string) => Number(samples(suffix).find((m) => sameLabels(m, labels))?.value ?? 0);
  return { count: one("_count"), sum: one("_sum"), buckets };
}

/** How a histogram changed between two scrapes. */
export function histogramDelta(before: HistogramValue, after: HistogramValue): HistogramValue {
  const buckets: Record<string, number> = {};
  for (const [le, n] of Object.entries(after.buckets)) buckets[le] = n - (before.buckets[le] ?? 0);
  return { count: after.count - before.count, sum: after.sum - before.sum, buckets };
}

/** The cumulative bucket deltas one observation of `v` makes: 1 from the first bound ≥ v, 0 below. */
export function oneObservation(bounds: string[], v: number): Record<string, number> {
  return Object.fromEntries(bounds.map((le) => [le, le === "+Inf" || v <= Number(le) ? 1 : 0]));
}

/** Polls until `check` passes (it waits for the service to account for an event it cannot signal). */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 3_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
