import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { withDeadline } from "../../deadline.ts";
import type { ChatEnd, ChatObserver, ChatReport, LoadOutcome, ModelObserver } from "./observer.ts";

export const PREFIX = "lmstudio_service_";

/** Seconds from sending a chat upstream to its first token: a warm small model answers in tens of ms, a long prompt on a big one takes minutes. */
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120];
/** Generation speed of local models: a few tokens/s (large model on CPU) to hundreds (small model on a GPU). */
const TPS_BUCKETS = [1, 2, 5, 10, 15, 20, 30, 40, 60, 80, 100, 150, 200, 300, 500, 1000];
/** HTTP answers: milliseconds for lists and refusals, minutes for long generations and loads. */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Model loads: a second for a small model from the page cache, minutes for a large one from disk. */
const LOAD_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
const QUEUE_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What a scrape asks the upstream; a failure (or no answer in time) means unreachable. */
export interface UpstreamProbe {
  kind: string;
  version(): Promise<string>;
  /** Model key of every loaded instance (a key loaded twice appears twice). */
  loadedModelKeys(): Promise<string[]>;
}

export interface PrometheusMetricsOptions {
  /** Chats running and queued now, read at scrape time. */
  admission?: { running: number; queued: number };
  upstream?: UpstreamProbe;
  /** Longest a scrape waits for the upstream. */
  probeTimeoutMs?: number;
}

/** The process' own metrics (CPU, memory, event-loop lag, GC) are process-wide: one collector per process. */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: PREFIX });
  }
  return processRegistry;
}

/**
 * Every metric the service exposes, in its own registry. Per-request updates go through children
 * cached by their label values: prom-client hashes the labels on every `labels()` call, and this
 * path runs once or more per request.
 */
export class PrometheusMetrics implements ChatObserver, ModelObserver {
  readonly registry = new Registry();
  readonly #opts: PrometheusMetricsOptions;

  readonly #httpRequests = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: "HTTP requests answered, by route template, method and status (499: the client went away first)",
    labelNames: ["route", "method", "status"] as const,
    registers: [this.registry],
  });
  readonly #httpDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: "Time from receiving a request to the end of its response, by route template, method and status",
    labelNames: ["route", "method", "status"] as const,
    buckets: HTTP_BUCKETS,
    registers: [this.registry],
  });
  readonly #chats = new Counter({
    name: `${PREFIX}chats_total`,
    help: "Chats ended, by API surface, model and outcome (ok, cancelled, timeout, upstream_error, rejected, error)",
    labelNames: ["surface", "model", "outcome"] as const,
    registers: [this.registry],
  });
  readonly #rejections = new Counter({
    name: `${PREFIX}chat_rejections_total`,
    help: "Chats refused with 429 before they got a slot, by API surface and reason (queue_full, queue_timeout)",
    labelNames: ["surface", "reason"] as const,
    registers: [this.registry],
  });
  readonly #ttft = new Histogram({
    name: `${PREFIX}chat_time_to_first_token_seconds`,
    help: "Time from sending a chat upstream to its first token (prompt processing), by model",
    labelNames: ["model"] as const,
    buckets: TTFT_BUCKETS,
    registers: [this.registry],
  });
  readonly #tps = new Histogram({
    name: `${PREFIX}chat_generation_tokens_per_second`,
    help: "Generation speed of completed chats (completion tokens over the time from first to last token), by model",
    labelNames: ["model"] as const,
    buckets: TPS_BUCKETS,
    registers: [this.registry],
  });
  readonly #promptTokens = new Counter({
    name: `${PREFIX}prompt_tokens_total`,
    help: "Prompt tokens of completed chats, as the upstream counted them, by model",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  readonly #completionTokens = new Counter({
    name: `${PREFIX}completion_tokens_total`,
    help: "Completion tokens of completed chats, as the upstream counted them, by model",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  readonly #inFlight = new Gauge({
    name: `${PREFIX}chats_in_flight`,
    help: "Chats running on a model now (from the moment their model is resolved, or loaded on demand)",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  readonly #queueWait = new Histogram({
    name: `${PREFIX}chat_queue_wait_seconds`,
    help: "Time admitted chats waited for a slot (MAX_CONCURRENT_CHATS)",
    buckets: QUEUE_BUCKETS,
    registers: [this.registry],
  });
  readonly #loads = new Counter({
    name: `${PREFIX}model_loads_total`,
    help: "Upstream model loads (one per model however many callers waited), by model and outcome (ok, cancelled, timeout, error)",
    labelNames: ["model", "outcome"] as const,
    registers: [this.registry],
  });
  readonly #loadDuration = new Histogram({
    name: `${PREFIX}model_load_duration_seconds`,
    help: "Duration of upstream model loads, by model and outcome",
    labelNames: ["model", "outcome"] as const,
    buckets: LOAD_BUCKETS,
    registers: [this.registry],
  });

  readonly #httpChildren = new Map<
    string,
    { count: Counter.Internal; duration: Histogram.Internal<string> }
  >();
  readonly #chatChildren = new Map<string, Counter.Internal>();
  readonly #modelChildren = new Map<
    string,
    {
      ttft: Histogram.Internal<string>;
      tps: Histogram.Internal<string>;
      prompt: Counter.Internal;
      completion: Counter.Internal;
      inFlight: Gauge.Internal<string>;
    }
  >();

  constructor(opts: PrometheusMetricsOptions = {}) {
    this.#opts = opts;
    const admission = opts.admission;
    new Gauge({
      name: `${PREFIX}chats_running`,
      help: "Chats holding a slot now, whatever their model (at most MAX_CONCURRENT_CHATS)",
      registers: [this.registry],
      collect() {
        this.set(admission?.running ?? 0);
      },
    });
    new Gauge({
      name: `${PREFIX}chats_queued`,
      help: "Chats waiting for a slot now (at most MAX_QUEUED_CHATS); their model is not known before their body is read",
      registers: [this.registry],
      collect() {
        this.set(admission?.queued ?? 0);
      },
    });
    this.#upstreamGauges();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition: the process' metrics, then the service's. */
  async render(): Promise<string> {
    const [process, service] = await Promise.all([processMetrics().metrics(), this.registry.metrics()]);
    return `${process}\n${service}`;
  }

  httpRequest(route: string, method: string, status: number, seconds: number): void {
    const key = `${route}\u0000${method}\u0000${status}`;
    let c = this.#httpChildren.get(key);
    if (!c) {
      const labels = { route, method, status: String(status) };
      c = { count: this.#httpRequests.labels(labels), duration: this.#httpDuration.labels(labels) };
      this.#httpChildren.set(key, c);
    }
    c.count.inc();
    c.duration.observe(seconds);
  }

  queued(seconds: number): void {
    this.#queueWait.observe(seconds);
  }

  notAdmitted(report: ChatReport, code: string): void {
    if (code === "queue_full" || code === "queue_timeout") {
      this.#rejections.labels(report.surface, code).inc();
    }
    this.#chatCounter(report).inc();
  }

  inFlight(model: string, delta: 1 | -1): void {
    this.#model(model).inFlight.inc(delta);
  }

  ended({ report, usage, timeToFirstTokenMs, generationMs }: ChatEnd): void {
    this.#chatCounter(report).inc();
    if (report.outcome !== "ok") return;
    const m = this.#model(report.model);
    if (timeToFirstTokenMs !== undefined) m.ttft.observe(timeToFirstTokenMs / 1000);
    if (usage) {
      m.prompt.inc(usage.promptTokens);
      m.completion.inc(usage.completionTokens);
      if (generationMs !== undefined && generationMs > 0 && usage.completionTokens > 0) {
        m.tps.observe(usage.completionTokens / (generationMs / 1000));
      }
    }
  }

  loadEnded(model: string, outcome: LoadOutcome, seconds: number): void {
    this.#loads.labels(model, outcome).inc();
    this.#loadDuration.labels(model, outcome).observe(seconds);
  }

  #chatCounter(report: ChatReport): Counter.Internal {
    const outcome = report.outcome ?? "error";
    const key = `${report.surface}\u0000${report.model}\u0000${outcome}`;
    let c = this.#chatChildren.get(key);
    if (!c) {
      c = this.#chats.labels(report.surface, report.model, outcome);
      this.#chatChildren.set(key, c);
    }
    return c;
  }

  #model(model: string) {
    let m = this.#modelChildren.get(model);
    if (!m) {
      m = {
        ttft: this.#ttft.labels(model),
        tps: this.#tps.labels(model),
        prompt: this.#promptTokens.labels(model),
        completion: this.#completionTokens.labels(model),
        inFlight: this.#inFlight.labels(model),
      };
      this.#modelChildren.set(model, m);
    }
    return m;
  }

  /** Reachability, version and loaded models, asked of the upstream at scrape time (one probe per scrape). */
  #upstreamGauges(): void {
    const probe = this.#opts.upstream;
    if (!probe) return;
    const timeoutMs = this.#opts.probeTimeoutMs ?? 2_000;
    let pending: Promise<{ version?: string; loaded?: string[] }> | undefined;
    const ask = () => {
      pending ??= withDeadline(
        Promise.all([probe.version(), probe.loadedModelKeys()]).then(([version, loaded]) => ({
          version,
          loaded,
        })),
        timeoutMs,
      )
        .catch(() => ({}))
        .finally(() => {
          // Shared by the gauges of one scrape, fresh for the next.
          setImmediate(() => {
            pending = undefined;
          });
        });
      return pending;
    };
    const kind = probe.kind;
    new Gauge({
      name: `${PREFIX}upstream_up`,
      help: "Whether the upstream answered the scrape's probe (1) or not (0)",
      labelNames: ["upstream"] as const,
      registers: [this.registry],
      async collect() {
        const r = await ask();
        this.labels(kind).set(r.version === undefined ? 0 : 1);
      },
    });
    new Gauge({
      name: `${PREFIX}upstream_info`,
      help: "The upstream's version (always 1; absent while it cannot be reached)",
      labelNames: ["upstream", "version"] as const,
      registers: [this.registry],
      async collect() {
        const r = await ask();
        this.reset();
        if (r.version !== undefined) this.labels(kind, r.version).set(1);
      },
    });
    new Gauge({
      name: `${PREFIX}models_loaded`,
      help: "Instances loaded in the upstream now, by model key (absent while it cannot be reached)",
      labelNames: ["model"] as const,
      registers: [this.registry],
      async collect() {
        const r = await ask();
        this.reset();
        for (const key of r.loaded ?? []) this.labels(key).inc();
      },
    });
  }
}
