/**
 * GET /metrics after real traffic through the real service and the emulator: every assertion is an
 * exact change between two scrapes, read with a real Prometheus text parser.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  eventually,
  histogram,
  histogramDelta,
  oneObservation,
  type Scrape,
  scrape,
  value,
} from "../helpers/metrics.ts";
import { postJson, readResponse, type Stack, startStack } from "../helpers/stack.ts";

const P = "lmstudio_service_";
const QWEN = "qwen/qwen3-4b-2507";
const GEMMA = "google/gemma-3-1b";
const user = (content: string) => [{ role: "user", content }];

let stack: Stack;

beforeAll(async () => {
  // One slot and no queue: a second chat while one runs is a 429.
  stack = await startStack({ env: { MAX_CONCURRENT_CHATS: "1", MAX_QUEUED_CHATS: "0" } });
});
afterAll(async () => {
  expect(stack.emu.warnings).toEqual([]);
  await stack.close();
});
beforeEach(() => {
  stack.emu.reset({ preload: [QWEN] });
});

const chats = (s: Scrape, model: string, outcome: string) =>
  value(s, `${P}chats_total`, { surface: "reference", model, outcome });
const http = (s: Scrape, route: string, method: string, status: number) =>
  value(s, `${P}http_requests_total`, { route, method, status: String(status) });

describe("GET /metrics", () => {
  it("is Prometheus' text format, every metric named lmstudio_service_… and counters in _total", async () => {
    const s = await scrape(stack.url);
    expect(s.status).toBe(200);
    expect(s.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(s.families.size).toBeGreaterThan(20);
    for (const [name, family] of s.families) {
      expect(name).toMatch(/^lmstudio_service_[a-z0-9_]+$/);
      if (family.type === "COUNTER") expect(name).toMatch(/_total$/);
    }
  });

  it("has the process' own metrics: CPU, memory, event-loop lag", async () => {
    const s = await scrape(stack.url);
    expect(value(s, `${P}process_cpu_seconds_total`)).toBeGreaterThan(0);
    expect(value(s, `${P}process_resident_memory_bytes`)).toBeGreaterThan(10 * 1024 * 1024);
    expect(value(s, `${P}nodejs_eventloop_lag_seconds`)).toBeGreaterThanOrEqual(0);
    expect(s.families.get(`${P}nodejs_heap_size_used_bytes`)?.type).toBe("GAUGE");
  });

  it("says the upstream is up, its version, and which models are loaded", async () => {
    const s = await scrape(stack.url);
    expect(value(s, `${P}upstream_up`, { upstream: "lmstudio" })).toBe(1);
    expect(value(s, `${P}upstream_info`, { upstream: "lmstudio", version: stack.emu.version })).toBe(1);
    expect(value(s, `${P}models_loaded`, { model: QWEN })).toBe(1);
    expect(value(s, `${P}models_loaded`, { model: GEMMA })).toBe(0);
  });
});

describe("a chat", () => {
  it("counts the chat, its tokens, time to first token and speed by model, and the HTTP request", async () => {
    stack.emu.configure({ reply: "one two three four five six", chunkDelayMs: 2 });
    const before = await scrape(stack.url);
    const r = await postJson(`${stack.url}/chat/regular`, { messages: user("count to six please") });
    expect(r.status).toBe(200);
    const after = await scrape(stack.url);

    expect(chats(after, QWEN, "ok") - chats(before, QWEN, "ok")).toBe(1);
    const tokens = (s: Scrape, kind: string) => value(s, `${P}${kind}_tokens_total`, { model: QWEN });
    expect(tokens(after, "prompt") - tokens(before, "prompt")).toBe(r.json.prompt_tokens);
    expect(tokens(after, "completion") - tokens(before, "completion")).toBe(6);
    expect(r.json.predicted_tokens).toBe(6);

    const ttftName = `${P}chat_time_to_first_token_seconds`;
    const ttft = histogramDelta(
      histogram(before, ttftName, { model: QWEN }),
      histogram(after, ttftName, { model: QWEN }),
    );
    const ttftSeconds = r.json.time_to_first_token_ms / 1000;
    expect(ttft.count).toBe(1);
    expect(ttft.sum).toBeCloseTo(ttftSeconds, 6);
    expect(ttft.buckets).toEqual(oneObservation(Object.keys(ttft.buckets), ttftSeconds));

    const tpsName = `${P}chat_generation_tokens_per_second`;
    const tps = histogramDelta(
      histogram(before, tpsName, { model: QWEN }),
      histogram(after, tpsName, { model: QWEN }),
    );
    expect(tps.count).toBe(1);
    expect(tps.sum).toBeCloseTo(r.json.tokens_per_second, 1);
    expect(tps.buckets).toEqual(oneObservation(Object.keys(tps.buckets), tps.sum));

    expect(http(after, "/chat/regular", "POST", 200) - http(before, "/chat/regular", "POST", 200)).toBe(1);
    const durName = `${P}http_request_duration_seconds`;
    const labels = { route: "/chat/regular", method: "POST", status: "200" };
    const dur = histogramDelta(histogram(before, durName, labels), histogram(after, durName, labels));
    expect(dur.count).toBe(1);
    expect(dur.sum).toBeGreaterThanOrEqual(ttftSeconds);
    expect(value(after, `${P}chats_in_flight`, { model: QWEN })).toBe(0);
    expect(value(after, `${P}chats_running`)).toBe(0);
  });

  it("labels routes by their template, never the raw URL", async () => {
    const before = await scrape(stack.url);
    const r = await fetch(`${stack.url}/models?x=${"a".repeat(20)}`);
    expect(r.status).toBe(200);
    await fetch(`${stack.url}/no/such/path/abc123`);
    const after = await scrape(stack.url);
    expect(http(after, "/models", "GET", 200) - http(before, "/models", "GET", 200)).toBe(1);
    expect(http(after, "unmatched", "GET", 404) - http(before, "unmatched", "GET", 404)).toBe(1);
    expect(after.text).not.toContain("abc123");
    expect(after.text).not.toContain("aaaaaaaaaa");
  });

  it("a model that is not downloaded is no label: it counts as other", async () => {
    const before = await scrape(stack.url);
    const r = await postJson(`${stack.url}/chat`, { model_key: "no-such-model-xyz", messages: user("hi") });
    expect(r.status).toBe(404);
    const after = await scrape(stack.url);
    expect(chats(after, "other", "rejected") - chats(before, "other", "rejected")).toBe(1);
    expect(after.text).not.toContain("no-such-model-xyz");
  });

  it("a name in another case or an alias counts under the model's key", async () => {
    const before = await scrape(stack.url);
    const r = await postJson(`${stack.url}/chat`, { model_key: "Qwen/Qwen3-4B-2507", messages: user("hi") });
    expect(r.status).toBe(200);
    const after = await scrape(stack.url);
    expect(chats(after, QWEN, "ok") - chats(before, QWEN, "ok")).toBe(1);
    expect(after.text).not.toContain("Qwen/Qwen3-4B-2507");
  });
});

describe("a stream cancelled by the client", () => {
  it("counts a cancelled chat and no completed one", async () => {
    stack.emu.configure({ reply: "one two three four five six seven eight nine ten", chunkDelayMs: 100 });
    const before = await scrape(stack.url);
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/chat/regular/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: user("talk slowly") }),
      signal: controller.signal,
    });
    const reader = res.body?.getReader();
    await reader?.read();
    controller.abort();
    await stack.emu.waitFor(() => stack.emu.chats[0]?.outcome === "cancelled");
    const after = await eventually(async () => {
      const s = await scrape(stack.url);
      expect(chats(s, QWEN, "cancelled") - chats(before, QWEN, "cancelled")).toBe(1);
      return s;
    });
    expect(chats(after, QWEN, "ok") - chats(before, QWEN, "ok")).toBe(0);
    const ttftName = `${P}chat_time_to_first_token_seconds`;
    expect(histogram(after, ttftName, { model: QWEN }).count).toBe(
      histogram(before, ttftName, { model: QWEN }).count,
    );
    expect(value(after, `${P}chats_in_flight`, { model: QWEN })).toBe(0);
    // The answer had begun (200) when the client left.
    await eventually(async () => {
      const s = await scrape(stack.url);
      expect(
        http(s, "/chat/regular/stream", "POST", 200) - http(before, "/chat/regular/stream", "POST", 200),
      ).toBe(1);
    });
  });
});

describe("a 429", () => {
  it("counts the rejection by surface and reason, and the slot holder as running", async () => {
    stack.emu.hangNextChat();
    const before = await scrape(stack.url);
    const holder = new AbortController();
    const held = fetch(`${stack.url}/chat/regular`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: user("hang") }),
      signal: holder.signal,
    }).catch(() => undefined);
    await stack.emu.waitFor(() => stack.emu.chats.length === 1);
    const during = await scrape(stack.url);
    expect(value(during, `${P}chats_running`)).toBe(1);
    expect(value(during, `${P}chats_in_flight`, { model: QWEN })).toBe(1);

    const refused = await postJson(`${stack.url}/chat/regular`, { messages: user("me too") });
    expect(refused.status).toBe(429);
    holder.abort();
    await held;
    const after = await eventually(async () => {
      const s = await scrape(stack.url);
      expect(chats(s, QWEN, "cancelled") - chats(before, QWEN, "cancelled")).toBe(1);
      return s;
    });
    const rejections = (s: Scrape) =>
      value(s, `${P}chat_rejections_total`, { surface: "reference", reason: "queue_full" });
    expect(rejections(after) - rejections(before)).toBe(1);
    expect(chats(after, "other", "rejected") - chats(before, "other", "rejected")).toBe(1);
    expect(http(after, "/chat/regular", "POST", 429) - http(before, "/chat/regular", "POST", 429)).toBe(1);
    expect(value(after, `${P}chats_running`)).toBe(0);
    expect(value(after, `${P}chats_in_flight`, { model: QWEN })).toBe(0);
  });
});

describe("an upstream failure", () => {
  it("counts an upstream_error under the model", async () => {
    stack.emu.failNextChat({ status: 500, body: { error: "CUDA exploded" } });
    const before = await scrape(stack.url);
    const r = await postJson(`${stack.url}/chat/regular`, { messages: user("hi") });
    expect(r.status).toBe(502);
    const after = await scrape(stack.url);
    expect(chats(after, QWEN, "upstream_error") - chats(before, QWEN, "upstream_error")).toBe(1);
    expect(http(after, "/chat/regular", "POST", 502) - http(before, "/chat/regular", "POST", 502)).toBe(1);
  });

  it("a stream that fails after it began counts as upstream_error", async () => {
    stack.emu.failNextChat({ status: 500, afterChunks: 2 });
    const before = await scrape(stack.url);
    const res = await readResponse(
      await fetch(`${stack.url}/chat/regular/stream`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: user("one two three four") }),
      }),
    );
    expect(res.text).toContain('"type":"error"');
    const after = await scrape(stack.url);
    expect(chats(after, QWEN, "upstream_error") - chats(before, QWEN, "upstream_error")).toBe(1);
  });
});

describe("model loads", () => {
  it("counts a load by model and outcome, times it, and the model is loaded now", async () => {
    stack.emu.configure({ loadTimeMs: 120 });
    const before = await scrape(stack.url);
    const r = await postJson(`${stack.url}/models/load`, { model_key: GEMMA });
    expect(r.status).toBe(200);
    const after = await scrape(stack.url);
    const loads = (s: Scrape, outcome: string) =>
      value(s, `${P}model_loads_total`, { model: GEMMA, outcome });
    expect(loads(after, "ok") - loads(before, "ok")).toBe(1);
    const name = `${P}model_load_duration_seconds`;
    const d = histogramDelta(
      histogram(before, name, { model: GEMMA, outcome: "ok" }),
      histogram(after, name, { model: GEMMA, outcome: "ok" }),
    );
    expect(d.count).toBe(1);
    expect(d.sum).toBeGreaterThanOrEqual(0.12);
    expect(d.buckets).toEqual(oneObservation(Object.keys(d.buckets), d.sum));
    expect(value(after, `${P}models_loaded`, { model: GEMMA })).toBe(1);

    // Loading it again is no load.
    await postJson(`${stack.url}/models/load`, { model_key: GEMMA });
    const again = await scrape(stack.url);
    expect(loads(again, "ok")).toBe(loads(after, "ok"));
  });

  it("a failed load counts as error", async () => {
    stack.emu.failNextLoad({ message: "not enough memory" });
    const before = await scrape(stack.url);
    const r = await postJson(`${stack.url}/models/load`, { model_key: GEMMA });
    expect(r.status).toBeGreaterThanOrEqual(500);
    const after = await scrape(stack.url);
    const failed = (s: Scrape) => value(s, `${P}model_loads_total`, { model: GEMMA, outcome: "error" });
    expect(failed(after) - failed(before)).toBe(1);
    expect(value(after, `${P}models_loaded`, { model: GEMMA })).toBe(0);
  });

  it("a chat that loads its model on demand counts the load and the chat under the model", async () => {
    const before = await scrape(stack.url);
    const r = await postJson(`${stack.url}/chat`, { model_key: GEMMA, messages: user("hi") });
    expect(r.status).toBe(200);
    const after = await scrape(stack.url);
    const loads = (s: Scrape) => value(s, `${P}model_loads_total`, { model: GEMMA, outcome: "ok" });
    expect(loads(after) - loads(before)).toBe(1);
    expect(chats(after, GEMMA, "ok") - chats(before, GEMMA, "ok")).toBe(1);
  });
});

describe("who may read /metrics", () => {
  it("with API_KEYS it needs a key, unless METRICS_PUBLIC=true; METRICS_ENABLED=false has none", async () => {
    const keyed = await startStack({ env: { API_KEYS: "k1" } });
    const open = await startStack({ env: { API_KEYS: "k1", METRICS_PUBLIC: "true" } });
    const off = await startStack({ env: { METRICS_ENABLED: "false" } });
    try {
      expect((await scrape(keyed.url)).status).toBe(401);
      expect((await scrape(keyed.url, { authorization: "Bearer k1" })).status).toBe(200);
      const pub = await scrape(open.url);
      expect(pub.status).toBe(200);
      expect(pub.families.has(`${P}http_requests_total`)).toBe(true);
      // Public metrics do not open the rest.
      expect((await fetch(`${open.url}/models`)).status).toBe(401);
      expect((await scrape(off.url)).status).toBe(404);
      expect((await fetch(`${off.url}/health`)).status).toBe(200);
    } finally {
      await Promise.all([keyed.close(), open.close(), off.close()]);
    }
  });

  it("an upstream that cannot be reached is down, with no version and no loaded models", async () => {
    const down = await startStack({ env: { LMSTUDIO_BASE_URL: "ws://127.0.0.1:9", SDK_TIMEOUT_MS: "500" } });
    try {
      const s = await scrape(down.url);
      expect(value(s, `${P}upstream_up`, { upstream: "lmstudio" })).toBe(0);
      expect(s.families.get(`${P}upstream_info`)?.metrics).toEqual([]);
      expect(s.families.get(`${P}models_loaded`)?.metrics).toEqual([]);
    } finally {
      await down.close();
    }
  });
});
