import { isServiceError } from "../errors.ts";
import type { ModelService } from "../models/model-service.ts";
import { throttleProgress } from "../models/throttle-progress.ts";
import type {
  ChatEngine,
  ChatEvent,
  ChatUsage,
  LoadedModel,
  SamplingParams,
  UpstreamMessage,
} from "../upstream/types.ts";
import type { Admission } from "./admission.ts";

export interface ChatTimings {
  queueMs?: number;
  loadMs?: number;
  /** Time inside the upstream call (and on-demand load): what is not the service's own overhead. */
  upstreamMs: number;
  timeToFirstTokenMs?: number;
  generationMs?: number;
}

export type ChatOutput =
  | { type: "progress"; progress: number }
  | { type: "delta"; content: string }
  | { type: "end"; model: string; finishReason: string; usage: ChatUsage | undefined; timings: ChatTimings };

export interface ChatRun {
  model: string;
  messages: UpstreamMessage[];
  params: SamplingParams;
  signal: AbortSignal;
  /** Filled in as the chat goes, so that a caller can report timings even when it fails. */
  timings: ChatTimings;
}

export interface ChatServiceOptions {
  autoLoad: boolean;
  autoLoadExclusive: boolean;
  modelTtlSeconds: number | undefined;
  /** Minimum spacing of load progress events; the first and the last (1.0) always pass. */
  progressIntervalMs: number;
}

const LOAD_ON_DEMAND = new Set(["model_not_loaded", "no_models_loaded"]);

/**
 * Runs one chat: waits for a slot, sends it upstream, and when the model is not loaded (and
 * AUTO_LOAD is on) loads it once and retries, reporting load progress as it goes.
 */
export class ChatService {
  readonly #engine: ChatEngine;
  readonly #models: ModelService;
  readonly #admission: Admission;
  readonly #opts: ChatServiceOptions;
  /** Running chats per model name as requested (key or identifier), for "is this model busy?". */
  readonly #active = new Map<string, number>();

  constructor(engine: ChatEngine, models: ModelService, admission: Admission, opts: ChatServiceOptions) {
    this.#engine = engine;
    this.#models = models;
    this.#admission = admission;
    this.#opts = opts;
  }

  isBusy = (model: LoadedModel): boolean =>
    (this.#active.get(model.identifier) ?? 0) > 0 || (this.#active.get(model.modelKey) ?? 0) > 0;

  get running(): number {
    return this.#admission.running;
  }

  async *run(chat: ChatRun): AsyncGenerator<ChatOutput> {
    const queuedAt = performance.now();
    const release = await this.#admission.acquire(chat.signal);
    const waited = performance.now() - queuedAt;
    if (waited >= 1) chat.timings.queueMs = round(waited);
    this.#track(chat.model, +1);
    let upstream: AsyncIterator<ChatEvent> | undefined;
    try {
      if (this.#opts.autoLoad && !this.#models.isKnownLoaded(chat.model)) yield* this.#loadOnDemand(chat);
      for (let attempt = 0; ; attempt++) {
        const started = performance.now();
        upstream = this.#engine.stream(chat)[Symbol.asyncIterator]();
        let first: IteratorResult<ChatEvent>;
        try {
          first = await upstream.next();
        } catch (error) {
          chat.timings.upstreamMs += performance.now() - started;
          if (
            attempt === 0 &&
            this.#opts.autoLoad &&
            isServiceError(error) &&
            LOAD_ON_DEMAND.has(error.code)
          ) {
            // It was loaded when we last looked (TTL expiry, or unloaded in LM Studio's UI).
            this.#models.forget(chat.model);
            yield* this.#loadOnDemand(chat);
            continue;
          }
          throw error;
        }
        let firstTokenAt: number | undefined;
        for (let step = first; !step.done; step = await upstream.next()) {
          const event = step.value;
          if (event.type === "delta") {
            firstTokenAt ??= performance.now();
            yield event;
          } else {
            const endedAt = performance.now();
            chat.timings.upstreamMs += endedAt - started;
            chat.timings.timeToFirstTokenMs = round((firstTokenAt ?? endedAt) - started);
            chat.timings.generationMs = round(endedAt - (firstTokenAt ?? endedAt));
            yield { ...event, timings: chat.timings };
          }
        }
        return;
      }
    } finally {
      // A consumer that stopped early: let the engine cancel the generation upstream.
      upstream?.return?.().catch(() => {});
      this.#track(chat.model, -1);
      release();
    }
  }

  async *#loadOnDemand(chat: ChatRun): AsyncGenerator<ChatOutput> {
    const started = performance.now();
    const pending: number[] = [];
    let wake: (() => void) | undefined;
    let settled = false;
    let failure: unknown;
    const load = this.#models.ensureLoaded({
      modelKey: chat.model,
      exclusive: this.#opts.autoLoadExclusive,
      ttlSeconds: this.#opts.modelTtlSeconds,
      signal: chat.signal,
      onProgress: throttleProgress(this.#opts.progressIntervalMs, (p) => {
        pending.push(p);
        wake?.();
      }),
    });
    let loaded = false;
    load.then(
      (r) => {
        loaded = !r.alreadyLoaded;
        settled = true;
        wake?.();
      },
      (e) => {
        failure = e;
        settled = true;
        wake?.();
      },
    );
    try {
      for (;;) {
        for (const progress of pending.splice(0)) yield { type: "progress", progress };
        if (settled) break;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
      if (failure !== undefined) throw failure;
    } finally {
      const took = performance.now() - started;
      if (loaded) chat.timings.loadMs = round(took);
      chat.timings.upstreamMs += took;
    }
  }

  #track(model: string, delta: number) {
    const n = (this.#active.get(model) ?? 0) + delta;
    if (n > 0) this.#active.set(model, n);
    else this.#active.delete(model);
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;
