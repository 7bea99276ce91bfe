/** Core: chats, from admission through on-demand loading to the upstream's stream. */
import { isServiceError } from "../../errors.ts";
import type {
  ChatEngine,
  ChatEvent,
  ChatUsage,
  SamplingParams,
  UpstreamMessage,
} from "../../upstreams/types.ts";
import type { ModelGate } from "../models/model-gate.ts";
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
  | { type: "delta"; content: string }
  | { type: "end"; model: string; finishReason: string; usage: ChatUsage | undefined; timings: ChatTimings };

export interface ChatRun {
  model: string;
  messages: UpstreamMessage[];
  params: SamplingParams;
  signal: AbortSignal;
  /** Filled in as the chat goes, so that a caller can report timings even when it fails. */
  timings: ChatTimings;
  /** The upstream it must go to (and load on), when the service fronts several. */
  upstream?: string;
}

export interface AdmissionTicket {
  /** Frees the slot; safe to call more than once. */
  release: () => void;
  queueMs: number | undefined;
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
  readonly #models: ModelGate;
  readonly #admission: Admission;
  readonly #active: ActiveChats;
  readonly #slots: ModelSlots;
  readonly #opts: ChatServiceOptions;

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
  }

  /** Chats running and queued, in all and per model, for /health. */
  stats() {
    return {
      running: this.#admission.running,
      queued: this.#admission.queued,
      perModel: this.#slots.stats(),
    };
  }

  /**
   * Waits for a chat slot. Surfaces call it before they read the request's body, so that queued
   * requests hold no body in memory; `run` takes the ticket.
   */
  async admit(signal: AbortSignal): Promise<AdmissionTicket> {
    const queuedAt = performance.now();
    const release = await this.#admission.acquire(signal);
    const waited = performance.now() - queuedAt;
    return { release, queueMs: waited >= 1 ? round(waited) : undefined };
  }

  /** Runs one admitted chat; the ticket is released when it ends, however it ends. */
  async *run(chat: ChatRun, ticket: AdmissionTicket): AsyncGenerator<ChatOutput> {
    const release = ticket.release;
    if (ticket.queueMs !== undefined) chat.timings.queueMs = ticket.queueMs;
    chat = { ...chat, model: this.#models.dealias(chat.model) };
    // Busy under the name it was asked by until we know the loaded name it resolves to.
    let tracked = chat.model;
    this.#active.add(tracked);
    const target = (name: string) => {
      this.#active.remove(tracked);
      tracked = name;
      this.#active.add(tracked);
    };
    let upstream: AsyncIterator<ChatEvent> | undefined;
    let releaseSlot: (() => void) | undefined;
    try {
      const known = this.#models.knownLoaded(chat.model) ?? (await this.#refreshedName(chat.model));
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
          if (
            attempt === 0 &&
            this.#opts.autoLoad &&
            isServiceError(error) &&
            LOAD_ON_DEMAND.has(error.code)
          ) {
            // It was loaded when we last looked (TTL expiry, or unloaded in LM Studio's UI).
            this.#models.forget(tracked);
            target(yield* this.#loadOnDemand(chat));
            continue;
          }
          throw error;
        }
        let firstTokenAt: number | undefined;
        for (let step = first; !step.done; step = await upstream.next()) {
          const event = step.value;
          if (event.type === "delta") {
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
            yield { ...event, timings: chat.timings };
          }
        }
        return;
      }
    } finally {
      // A consumer that stopped early: let the engine cancel the generation upstream.
      upstream?.return?.().catch(() => {});
      releaseSlot?.();
      this.#active.remove(tracked);
      release();
    }
  }

  /**
   * The loaded name for `requested` after asking the upstream, when on-demand loading will not do
   * it. A failure to list is no reason to fail the chat: the upstream's answer will say.
   */
  async #refreshedName(requested: string): Promise<string | undefined> {
    if (this.#opts.autoLoad) return undefined;
    await this.#models.listLoaded().catch(() => undefined);
    return this.#models.knownLoaded(requested);
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
      ttlSeconds: this.#opts.modelTtlSeconds,
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

const round = (ms: number) => Math.round(ms * 100) / 100;
