/**
 * What graceful shutdown needs to know: how many requests are in flight, whether we are draining,
 * and one signal that tells every running stream to end now.
 */
export class Lifecycle {
  #active = 0;
  #draining = false;
  readonly #shutdown = new AbortController();
  readonly #atShutdown = new Set<() => void>();
  #idleWaiters: Array<() => void> = [];

  get active(): number {
    return this.#active;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Aborted when the grace period is over: in-flight work must end now. */
  get shutdownSignal(): AbortSignal {
    return this.#shutdown.signal;
  }

  /** Counts a request until its response closes (finished or client gone; hijacked replies too). */
  track(response: NodeJS.EventEmitter): void {
    this.#active++;
    response.once("close", () => {
      this.#active--;
      if (this.#active === 0) {
        for (const w of this.#idleWaiters) w();
        this.#idleWaiters = [];
      }
    });
  }

  /**
   * Calls `fn` when the grace period is over, unless the returned function is called first. For
   * one call per request: a listener on `shutdownSignal` would do, but an EventTarget walks all of
   * its listeners to add or remove one, so each request would pay for every other in flight.
   */
  atShutdown(fn: () => void): () => void {
    this.#atShutdown.add(fn);
    return () => this.#atShutdown.delete(fn);
  }

  beginDrain(): void {
    this.#draining = true;
  }

  /** Resolves true when nothing is in flight, false when `ms` passed first. */
  waitIdle(ms: number): Promise<boolean> {
    if (this.#active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  abortAll(): void {
    this.#shutdown.abort(new Error("shutting down"));
    const calls = [...this.#atShutdown];
    this.#atShutdown.clear();
    for (const fn of calls) fn();
  }
}
