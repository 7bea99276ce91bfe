/**
 * The Grafana dashboard (deploy/grafana/) is built only from what /metrics exposes: every metric
 * its queries name exists, and every label they group or filter by is on that metric's series.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Scrape, scrape } from "../helpers/metrics.ts";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";

const DASHBOARD = "deploy/grafana/lmstudio-service.json";
const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));

/** Every PromQL string in the dashboard: panel targets and template variable queries. */
function queries(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) queries(n, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if ((k === "expr" || k === "definition") && typeof v === "string") out.push(v);
      else queries(v, out);
    }
  }
  return out;
}

let stack: Stack;
let s: Scrape;

beforeAll(async () => {
  stack = await startStack({
    env: { MAX_CONCURRENT_CHATS: "1", MAX_QUEUED_CHATS: "0" },
    emulator: { preload: ["qwen/qwen3-4b-2507"] },
  });
  // Traffic that makes every labelled series exist: a chat, a load, a 429.
  const chat = { messages: [{ role: "user", content: "hi" }] };
  expect((await postJson(`${stack.url}/chat/regular`, chat)).status).toBe(200);
  expect((await postJson(`${stack.url}/models/load`, { model_key: "google/gemma-3-1b" })).status).toBe(200);
  stack.emu.hangNextChat();
  const holder = new AbortController();
  const held = fetch(`${stack.url}/chat/regular`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(chat),
    signal: holder.signal,
  }).catch(() => undefined);
  await stack.emu.waitFor(() => stack.emu.chats.length === 2);
  expect((await postJson(`${stack.url}/chat/regular`, chat)).status).toBe(429);
  s = await scrape(stack.url);
  holder.abort();
  await held;
});
afterAll(async () => {
  await stack.close();
});

/** The family a series name belongs to: histograms' _bucket, _sum and _count are their family's. */
function familyOf(name: string): string | undefined {
  if (s.families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return s.families.get(base)?.type === "HISTOGRAM" ? base : undefined;
}

function labelsOf(family: string): Set<string> {
  const f = s.families.get(family);
  const labels = new Set<string>();
  for (const m of f?.metrics ?? []) for (const l of Object.keys(m.labels ?? {})) labels.add(l);
  const buckets = s.histogramSamples.get(`${family}_bucket`)?.metrics ?? [];
  for (const m of buckets) for (const l of Object.keys(m.labels ?? {})) labels.add(l);
  return labels;
}

describe("the Grafana dashboard", () => {
  const all = queries(dashboard);

  it("has panels with queries", () => {
    expect(dashboard.panels.length).toBeGreaterThan(10);
    expect(all.length).toBeGreaterThan(20);
  });

  it("names only metrics that /metrics exposes", () => {
    const missing = all
      .flatMap((q) => q.match(/\blmstudio_service_[a-z0-9_]+/g) ?? [])
      .filter((name) => familyOf(name) === undefined);
    expect(missing).toEqual([]);
  });

  it("groups and filters only by labels those metrics have", () => {
    const problems: string[] = [];
    for (const q of all) {
      const families = (q.match(/\blmstudio_service_[a-z0-9_]+/g) ?? []).map((n) => familyOf(n) as string);
      const have = new Set(families.flatMap((f) => [...labelsOf(f)]));
      const used = [
        ...[...q.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => (m[1] ?? "").split(",")),
        ...[...q.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
          (m[1] ?? "").split(",").map((sel) => sel.split(/[=!~]/)[0] ?? ""),
        ),
        ...[...q.matchAll(/label_values\([^,]+,\s*([a-z_]+)\)/g)].map((m) => m[1] ?? ""),
      ]
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && !l.startsWith("$"));
      for (const label of used) if (!have.has(label)) problems.push(`${label} in ${q}`);
    }
    expect(problems).toEqual([]);
  });
});
