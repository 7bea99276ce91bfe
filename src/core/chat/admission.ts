import { ServiceError } from "../../errors.ts";

export interface AdmissionOptions {
  maxConcurrent: number;
  maxQueued: number;
  queueTimeoutMs: number;
  /** What a slot is, in messages: "chat slot" by default. */
  what?: string;
}

interface Waiter {
  resolve: () => void;
  reject: (e: ServiceError) => void;
}

/**
 * A counting semaphore with a bounded FIFO queue: at most `maxConcurrent` chats run, at most
 * `maxQueued` wait (each no longer than `queueTimeoutMs`), and everyone else gets a 429 at once.
 */
export class Admission {
  readonly #opts: AdmissionOptions;
  #running = 0;
  readonly #queue: Waiter[] = [];

  constructor(opts: AdmissionOptions) {
    this.#opts = opts;
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** A release function when a slot is free now (and nobody waits for one), else undefined. */
  tryAcquire(): (() => void) | undefined {
    if (this.#running < this.#opts.maxConcurrent && this.#queue.length === 0) {
      this.#running++;
      return this.#releaser();
    }
    return undefined;
  }

  /** Resolves with a release function once a slot is ours. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    const now = this.tryAcquire();
    if (now) return now;
    if (this.#queue.length >= this.#opts.maxQueued) {
      throw new ServiceError(
        429,
        "queue_full",
        `Too many chats${this.#opts.what ? ` waiting for a ${this.#opts.what}` : ""}: ${this.#running} running and ${this.#queue.length} queued; retry shortly`,
        { headers: { "retry-after": "1" } },
      );
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          cleanup();
          resolve();
        },
        reject: (e) => {
          cleanup();
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.#remove(waiter);
        waiter.reject(
          new ServiceError(
            429,
            "queue_timeout",
            `Waited ${this.#opts.queueTimeoutMs} ms for a free ${this.#opts.what ?? "chat slot"}; retry shortly`,
            { headers: { "retry-after": "1" } },
          ),
        );
      }, this.#opts.queueTimeoutMs);
      const onAbort = () => {
        this.#remove(waiter);
        waiter.reject(new ServiceError(499, "cancelled", "The request was cancelled while queued"));
      };
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
    });
    return this.#releaser();
  }

  #remove(waiter: Waiter) {
    const i = this.#queue.indexOf(waiter);
    if (i >= 0) this.#queue.splice(i, 1);
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // The slot passes straight to the next waiter: the running count stays the same.
      if (next) next.resolve();
      else this.#running--;
    };
  }
}
