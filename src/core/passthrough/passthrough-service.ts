/** Core: requests forwarded as they are (the OpenAI-compatible gateway), with the chats' guarantees. */
import { ServiceError } from "../../errors.ts";
import type { Passthrough, RawResponse } from "../../upstreams/types.ts";
import type { ActiveChats } from "../chat/active-chats.ts";
import type { AdmissionTicket, ChatTimings } from "../chat/chat-service.ts";
import type { ModelSlots } from "../chat/model-slots.ts";
import { loadOnDemand } from "../models/load-on-demand.ts";
import type { ModelGate } from "../models/model-gate.ts";
import { shouldReloadAfter } from "../models/reload-after-unload.ts";

export interface PassthroughRun {
  /** The path below the upstream's OpenAI-compatible base, e.g. "/chat/completions". */
  path: string;
  /** The model the request names (or the default the surface chose). */
  model: string;
  /** The request's bytes naming `model` instead of whatever they named: only the surface knows the format. */
  body: (model: string) => Buffer[];
  headers?: Record<string, string>;
  signal: AbortSignal;
  /** Filled in as the request goes, so that a caller can report timings even when it fails. */
  timings: ChatTimings;
  /** The upstream it must go to (and load on), when the service fronts several. */
  upstream?: string;
}

export type PassthroughOutput =
  | { type: "progress"; progress: number }
  | { type: "response"; response: RawResponse };

export interface PassthroughOptions {
  autoLoad: boolean;
  autoLoadExclusive: boolean;
  modelTtlSeconds: number | undefined;
  progressIntervalMs: number;
}

/**
 * Forwards one admitted request to the upstream, after loading its model through the gate (as
 * chats do: one load however many requests wait, never LM Studio's own JIT), and retries once when
 * the upstream says the model went away. The caller reads the response's body while the generator
 * is suspended on it; the ticket and the model's busy mark are released when the generator ends.
 */
export class PassthroughService {
  readonly #forward: Passthrough | undefined;
  readonly #models: ModelGate;
  readonly #active: ActiveChats;
  readonly #slots: ModelSlots;
  readonly #opts: PassthroughOptions;

  constructor(
    forward: Passthrough | undefined,
    models: ModelGate,
    active: ActiveChats,
    slots: ModelSlots,
    opts: PassthroughOptions,
  ) {
    this.#forward = forward;
    this.#models = models;
    this.#active = active;
    this.#slots = slots;
    this.#opts = opts;
  }

  /** Models by their upstream names, for listing; the gate knows aliases. */
  get models(): ModelGate {
    return this.#models;
  }

  get autoLoad(): boolean {
    return this.#opts.autoLoad;
  }

  async *run(run: PassthroughRun, ticket: AdmissionTicket): AsyncGenerator<PassthroughOutput> {
    const forward = this.#forward;
    if (ticket.queueMs !== undefined) run.timings.queueMs = ticket.queueMs;
    let tracked = this.#models.dealias(run.model);
    this.#active.add(tracked);
    const target = (name: string) => {
      this.#active.remove(tracked);
      tracked = name;
      this.#active.add(tracked);
    };
    let releaseSlot: (() => void) | undefined;
    try {
      if (!forward) {
        throw new ServiceError(
          501,
          "not_supported",
          `${this.#models.upstreamName} has no OpenAI-compatible API to forward to`,
        );
      }
      const known = await this.#models.loadedName(tracked, !this.#opts.autoLoad);
      if (known !== undefined) target(known);
      else if (this.#opts.autoLoad) target(yield* this.#load(run, tracked));
      // As for chats: no more requests at once per model than LM Studio runs in parallel.
      const slotFrom = performance.now();
      releaseSlot = await this.#slots.acquire(tracked, run.signal);
      const slotWait = performance.now() - slotFrom;
      if (slotWait >= 1) run.timings.queueMs = (run.timings.queueMs ?? 0) + Math.round(slotWait * 100) / 100;
      for (let attempt = 0; ; attempt++) {
        const started = performance.now();
        let response: RawResponse;
        try {
          response = await forward({
            path: run.path,
            method: "POST",
            body: run.body(tracked),
            headers: run.headers,
            model: tracked,
            signal: run.signal,
            upstream: run.upstream,
          });
        } catch (error) {
          run.timings.upstreamMs += performance.now() - started;
          if (shouldReloadAfter(error, attempt, this.#opts.autoLoad)) {
            this.#models.forget(tracked);
            target(yield* this.#load(run, tracked));
            continue;
          }
          throw error;
        }
        run.timings.upstreamMs += performance.now() - started;
        yield { type: "response", response };
        return;
      }
    } finally {
      releaseSlot?.();
      this.#active.remove(tracked);
      ticket.release();
    }
  }

  async *#load(run: PassthroughRun, model: string): AsyncGenerator<PassthroughOutput, string> {
    const loading = loadOnDemand(this.#models, {
      model,
      exclusive: this.#opts.autoLoadExclusive,
      ttlSeconds: this.#opts.modelTtlSeconds,
      signal: run.signal,
      progressIntervalMs: this.#opts.progressIntervalMs,
      upstream: run.upstream,
    });
    const started = performance.now();
    try {
      for (;;) {
        const step = await loading.next();
        if (step.done) {
          if (step.value.loaded) run.timings.loadMs = Math.round(step.value.ms * 100) / 100;
          return step.value.identifier;
        }
        yield { type: "progress", progress: step.value };
      }
    } finally {
      run.timings.upstreamMs += performance.now() - started;
    }
  }
}
