/** Core: chats, from admission through on-demand loading to the upstream's stream. */
import { isServiceError } from "../../errors.ts";
import type {
  Blobs,
  ChatEngine,
  ChatEvent,
  ChatToolCall,
  ChatUsage,
  ResponseFormat,
  SamplingParams,
  UpstreamMessage,
  UpstreamTool,
} from "../../upstreams/types.ts";
import {
  type ChatObserver,
  type ChatOutcome,
  type ChatReport,
  noObserver,
  OTHER_MODEL,
  UNKNOWN_SURFACE,
} from "../metrics/observer.ts";
import { chatOutcomeOf } from "../metrics/outcome.ts";
import type { ModelGate } from "../models/model-gate.ts";
import { shouldReloadAfter } from "../models/reload-after-unload.ts";
import { throttleProgress } from "../models/throttle-progress.ts";
import type { ActiveChats } from "./active-chats.ts";
import type { Admission } from "./admission.ts";
import type { ModelSlots } from "./model-slots.ts";

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
  | { type: "delta"; content: string; pieces?: number }
  | { type: "reasoning"; content: string }
  | { type: "tool_calls"; calls: ChatToolCall[] }
  | { type: "end"; model: string; finishReason: string; usage: ChatUsage | undefined; timings: ChatTimings };

export interface ChatRun {
  model: string;
  messages: UpstreamMessage[];
  /** Strings of `messages` kept as bytes (see Blobs). */
  blobs?: Blobs;
  /** The caller wants the answer whole (see ChatRequest). */
  wholeAnswer?: boolean;
  params: SamplingParams;
  signal: AbortSignal;
  /** Filled in as the chat goes, so that a caller can report timings even when it fails. */
  timings: ChatTimings;
  /** The request's id, sent upstream (X-Request-Id) so that both logs name the same chat. */
  requestId?: string;
  tools?: UpstreamTool[];
  responseFormat?: ResponseFormat;
  /** Report the model's reasoning as `reasoning` outputs. */
  reasoning?: boolean;
  /** TTL of a load this chat causes (else MODEL_TTL_SECONDS); 0 or less: none. */
  ttlSeconds?: number;
  /** Context length of a load this chat causes. */
  contextLength?: number;
  /** The upstream it must go to (and load on), when the service fronts several. */
  upstream?: string;
}

export interface AdmissionTicket {
  /** Frees the slot; safe to call more than once. */
  release: () => void;
  queueMs: number | undefined;
  /** The chat's surface, model label, outcome and tokens, filled in as it goes (metrics, access log). */
  report: ChatReport;
}

export interface ChatServiceOptions {
  autoLoad: boolean;
  autoLoadExclusive: boolean;
  modelTtlSeconds: number | undefined;
  /** Minimum spacing of load progress events; the first and the last (1.0) always pass. */
  progressIntervalMs: number;
  /** Metrics; none by default. */
  observer?: ChatObserver;
}

/**
 * Runs one chat: waits for a slot, sends it upstream, and when the model is not loaded (and
 * AUTO_LOAD is on) loads it once and retries, reporting load progress as it goes.
 */
export class ChatService {
  readonly #engine: ChatEngine;
  readonly #models: ModelGate;
  readonly #admission: Admission;
  readonly #active: ActiveChats;
  readonly #slots: ModelSlots;
  readonly #opts: ChatServiceOptions;
  readonly #observer: ChatObserver;

  constructor(
    engine: ChatEngine,
    models: ModelGate,
    admission: Admission,
    active: ActiveChats,
    slots: ModelSlots,
    opts: ChatServiceOptions,
  ) {
    this.#slots = slots;
    this.#engine = engine;
    this.#models = models;
    this.#admission = admission;
    this.#active = active;
    this.#opts = opts;
    this.#observer = opts.observer ?? noObserver;
  }

  /** Chats running and queued, in all and per model, for /health. */
  stats() {
    return {
      running: this.#admission.running,
      queued: this.#admission.queued,
      perModel: this.#slots.stats(),
    };
  }

  /** `admit` when a slot is free now: the ticket without a promise (the common path); else undefined. */
  tryAdmit(surface: string = UNKNOWN_SURFACE): AdmissionTicket | undefined {
    const release = this.#admission.tryAcquire();
    if (release === undefined) return undefined;
    this.#observer.queued(0);
    return { release, queueMs: undefined, report: { surface, model: OTHER_MODEL } };
  }

  /**
   * Waits for a chat slot. Surfaces call it before they read the request's body, so that queued
   * requests hold no body in memory; `run` takes the ticket. `surface` labels the chat's metrics
   * ("reference", "openai", "ollama").
   */
  async admit(signal: AbortSignal, surface: string = UNKNOWN_SURFACE): Promise<AdmissionTicket> {
    const now = this.tryAdmit(surface);
    if (now) return now;
    const report: ChatReport = { surface, model: OTHER_MODEL };
    const queuedAt = performance.now();
    let release: () => void;
    try {
      release = await this.#admission.acquire(signal);
    } catch (error) {
      report.outcome = chatOutcomeOf(error);
      this.#observer.notAdmitted(report, isServiceError(error) ? error.code : "internal_error");
      throw error;
    }
    const waited = performance.now() - queuedAt;
    this.#observer.queued(waited / 1000);
    return { release, queueMs: waited >= 1 ? round(waited) : undefined, report };
  }

  /** Runs one admitted chat; the ticket is released when it ends, however it ends. */
  async *run(chat: ChatRun, ticket: AdmissionTicket): AsyncGenerator<ChatOutput> {
    const release = ticket.release;
    const report = ticket.report;
    if (ticket.queueMs !== undefined) chat.timings.queueMs = ticket.queueMs;
    chat = { ...chat, model: this.#models.dealias(chat.model) };
    // Busy under the name it was asked by until we know the loaded name it resolves to.
    let tracked = chat.model;
    this.#active.add(tracked);
    // In flight for metrics only under a resolved model: a name a client made up is no label.
    let inFlight: string | undefined;
    const target = (name: string) => {
      this.#active.remove(tracked);
      tracked = name;
      this.#active.add(tracked);
      if (inFlight !== undefined) this.#observer.inFlight(inFlight, -1);
      inFlight = this.#models.modelKeyOf(name);
      report.model = inFlight ?? OTHER_MODEL;
      if (inFlight !== undefined) this.#observer.inFlight(inFlight, 1);
    };
    let upstream: AsyncIterator<ChatEvent> | undefined;
    let releaseSlot: (() => void) | undefined;
    let outcome: ChatOutcome | undefined;
    let usage: ChatUsage | undefined;
    try {
      // With AUTO_LOAD the gate itself checks; without, ask before sending a name in the wrong case.
      const known = await this.#models.loadedName(chat.model, !this.#opts.autoLoad);
      if (known !== undefined) target(known);
      else if (this.#opts.autoLoad) target(yield* this.#loadOnDemand(chat));
      const slotFrom = performance.now();
      releaseSlot = await this.#slots.acquire(tracked, chat.signal);
      const slotWait = performance.now() - slotFrom;
      if (slotWait >= 1) chat.timings.queueMs = round((chat.timings.queueMs ?? 0) + slotWait);
      for (let attempt = 0; ; attempt++) {
        const started = performance.now();
        upstream = this.#engine.stream({ ...chat, model: tracked })[Symbol.asyncIterator]();
        let first: IteratorResult<ChatEvent>;
        try {
          first = await upstream.next();
        } catch (error) {
          chat.timings.upstreamMs += performance.now() - started;
          if (shouldReloadAfter(error, attempt, this.#opts.autoLoad)) {
            this.#models.forget(tracked);
            target(yield* this.#loadOnDemand(chat));
            continue;
          }
          throw error;
        }
        let firstTokenAt: number | undefined;
        for (let step = first; !step.done; step = await upstream.next()) {
          const event = step.value;
          if (event.type !== "end") {
            if (firstTokenAt === undefined) {
              firstTokenAt = performance.now();
              // Counted now, so that a stream's headers (sent with the first token) report it.
              chat.timings.upstreamMs += firstTokenAt - started;
            }
            yield event;
          } else {
            const endedAt = performance.now();
            chat.timings.upstreamMs += endedAt - (firstTokenAt ?? started);
            chat.timings.timeToFirstTokenMs = round((firstTokenAt ?? endedAt) - started);
            chat.timings.generationMs = round(endedAt - (firstTokenAt ?? endedAt));
            // Counted before the consumer sees the end: it may stop iterating right after.
            outcome = "ok";
            usage = event.usage;
            if (usage) {
              report.promptTokens = usage.promptTokens;
              report.completionTokens = usage.completionTokens;
            }
            yield { ...event, timings: chat.timings };
          }
        }
        return;
      }
    } catch (error) {
      outcome ??= chatOutcomeOf(error);
      throw error;
    } finally {
      // A consumer that stopped early: let the engine cancel the generation upstream.
      upstream?.return?.().catch(() => {});
      releaseSlot?.();
      this.#active.remove(tracked);
      release();
      // Neither ended nor failed: the consumer stopped (client gone, shutdown).
      report.outcome = outcome ?? "cancelled";
      if (inFlight !== undefined) this.#observer.inFlight(inFlight, -1);
      this.#observer.ended({
        report,
        usage,
        timeToFirstTokenMs: chat.timings.timeToFirstTokenMs,
        generationMs: chat.timings.generationMs,
      });
    }
  }

  /** Loads the chat's model through the gate, yielding progress; returns the loaded identifier. */
  async *#loadOnDemand(chat: ChatRun): AsyncGenerator<ChatOutput, string> {
    const started = performance.now();
    const pending: number[] = [];
    let wake: (() => void) | undefined;
    let settled = false;
    let failure: unknown;
    const load = this.#models.ensureLoaded({
      modelKey: chat.model,
      exclusive: this.#opts.autoLoadExclusive,
      ttlSeconds: ttlOf(chat.ttlSeconds, this.#opts.modelTtlSeconds),
      ...(chat.contextLength !== undefined && { contextLength: chat.contextLength }),
      signal: chat.signal,
      upstream: chat.upstream,
      onProgress: throttleProgress(this.#opts.progressIntervalMs, (p) => {
        pending.push(p);
        wake?.();
      }),
    });
    let loaded = false;
    let identifier = chat.model;
    load.then(
      (r) => {
        loaded = !r.alreadyLoaded;
        identifier = r.model.identifier;
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
      return identifier;
    } finally {
      const took = performance.now() - started;
      if (loaded) chat.timings.loadMs = round(took);
      chat.timings.upstreamMs += took;
    }
  }
}

/** A chat's own TTL wins; one of 0 or less means "no TTL". */
const ttlOf = (own: number | undefined, fallback: number | undefined) =>
  own === undefined ? fallback : own > 0 ? own : undefined;

const round = (ms: number) => Math.round(ms * 100) / 100;
