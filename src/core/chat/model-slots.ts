import { Admission } from "./admission.ts";

export interface ModelSlotsOptions {
  /** Chats per loaded model at once: LM Studio runs 4 predictions in parallel by default. */
  perModel: number;
  maxQueued: number;
  queueTimeoutMs: number;
}

/**
 * A second admission, per model: LM Studio runs a few predictions per model in parallel and queues
 * the rest inside itself, where a request cannot be cancelled, burns its first-token timeout and is
 * invisible. Queued here instead, it can be cancelled, times out with 429 and shows in /health.
 */
export class ModelSlots {
  readonly #opts: ModelSlotsOptions;
  readonly #byModel = new Map<string, Admission>();

  constructor(opts: ModelSlotsOptions) {
    this.#opts = opts;
  }

  async acquire(model: string, signal: AbortSignal): Promise<() => void> {
    let admission = this.#byModel.get(model);
    if (!admission) {
      admission = new Admission({
        maxConcurrent: this.#opts.perModel,
        maxQueued: this.#opts.maxQueued,
        queueTimeoutMs: this.#opts.queueTimeoutMs,
        what: `chat slot for "${model}"`,
      });
      this.#byModel.set(model, admission);
    }
    const release = await admission.acquire(signal);
    const mine = admission;
    return () => {
      release();
      // Forget idle models, so that the map holds only models in use.
      if (mine.running === 0 && mine.queued === 0 && this.#byModel.get(model) === mine)
        this.#byModel.delete(model);
    };
  }

  /** Running and queued chats per model, for /health. */
  stats(): Record<string, { running: number; queued: number }> {
    return Object.fromEntries(
      [...this.#byModel].map(([m, a]) => [m, { running: a.running, queued: a.queued }]),
    );
  }
}
