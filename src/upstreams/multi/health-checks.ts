import type { FastifyBaseLogger } from "fastify";
import type { Member } from "./member.ts";

export interface HealthChecksOptions {
  /** Between two checks of an upstream that answers. */
  intervalMs: number;
  /** Longest wait for a check's answer. */
  timeoutMs: number;
  logger: FastifyBaseLogger;
}

/** The first retry of an upstream that failed; each further failure doubles it, up to the interval. */
const FIRST_RETRY_MS = 250;

/**
 * Checks every upstream in the background (its version, which needs it to answer): one that fails
 * is marked down, skipped by routing and listings, and checked again with backoff; one that answers
 * again is marked up. Requests that find an upstream gone report it here, so that it is skipped at
 * once rather than at the next check.
 */
export class HealthChecks {
  readonly #members: readonly Member[];
  readonly #opts: HealthChecksOptions;
  readonly #timers = new Map<Member, NodeJS.Timeout>();
  readonly #checking = new Map<Member, Promise<void>>();
  #closed = false;

  constructor(members: readonly Member[], opts: HealthChecksOptions) {
    this.#members = members;
    this.#opts = opts;
  }

  start(): void {
    for (const m of this.#members) this.#schedule(m, 0);
  }

  /** Checks one upstream now (or joins the check under way). */
  check(member: Member): Promise<void> {
    let running = this.#checking.get(member);
    if (!running) {
      running = this.#run(member).finally(() => this.#checking.delete(member));
      this.#checking.set(member, running);
    }
    return running;
  }

  /** Checks every upstream now: /health's view is then current. */
  async checkAll(): Promise<void> {
    await Promise.all(this.#members.map((m) => this.check(m)));
  }

  /** A request found the upstream gone: down now, retried with backoff. */
  reportFailure(member: Member, error: unknown): void {
    const wasDown = member.state === "down";
    member.markDown(error);
    if (!wasDown) this.#logDown(member);
    this.#schedule(member, this.#backoff(member));
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }

  async #run(member: Member): Promise<void> {
    const before = member.state;
    let timer: NodeJS.Timeout | undefined;
    try {
      const version = await Promise.race([
        member.upstream.models.version(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#opts.timeoutMs} ms`)),
            this.#opts.timeoutMs,
          );
        }),
      ]);
      member.markUp(version);
      if (before === "down") this.#opts.logger.info({ upstream: member.name }, "upstream is back up");
    } catch (error) {
      member.markDown(error);
      if (before !== "down") this.#logDown(member);
    } finally {
      clearTimeout(timer);
    }
    this.#schedule(member, member.state === "up" ? this.#opts.intervalMs : this.#backoff(member));
  }

  #backoff(member: Member): number {
    const exponent = Math.min(Math.max(member.failures - 1, 0), 16);
    return Math.min(FIRST_RETRY_MS * 2 ** exponent, Math.max(this.#opts.intervalMs, FIRST_RETRY_MS));
  }

  #schedule(member: Member, delayMs: number): void {
    if (this.#closed) return;
    clearTimeout(this.#timers.get(member));
    const timer = setTimeout(() => {
      this.#timers.delete(member);
      this.check(member).catch(() => {});
    }, delayMs);
    timer.unref();
    this.#timers.set(member, timer);
  }

  #logDown(member: Member): void {
    this.#opts.logger.warn(
      { upstream: member.name, error: member.lastError },
      "upstream is down: requests go to the others until it answers again",
    );
  }
}
