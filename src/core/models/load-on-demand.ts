import type { ModelGate } from "./model-gate.ts";
import { throttleProgress } from "./throttle-progress.ts";

export interface LoadOnDemandOptions {
  model: string;
  exclusive: boolean;
  ttlSeconds: number | undefined;
  signal: AbortSignal;
  progressIntervalMs: number;
  /** The upstream to load it on, when the service fronts several. */
  upstream?: string;
}

export interface LoadOnDemandResult {
  identifier: string;
  /** Whether this call's load did the loading (not joined an already loaded model). */
  loaded: boolean;
  ms: number;
}

/**
 * Loads a model through the gate (one load however many callers), yielding its progress as it
 * goes so that a caller can keep its client informed; returns the loaded identifier.
 */
export async function* loadOnDemand(
  models: ModelGate,
  opts: LoadOnDemandOptions,
): AsyncGenerator<number, LoadOnDemandResult> {
  const started = performance.now();
  const pending: number[] = [];
  let wake: (() => void) | undefined;
  let settled = false;
  let failure: unknown;
  let result: { identifier: string; loaded: boolean } | undefined;
  models
    .ensureLoaded({
      modelKey: opts.model,
      exclusive: opts.exclusive,
      ttlSeconds: opts.ttlSeconds,
      signal: opts.signal,
      upstream: opts.upstream,
      onProgress: throttleProgress(opts.progressIntervalMs, (p) => {
        pending.push(p);
        wake?.();
      }),
    })
    .then(
      (r) => {
        result = { identifier: r.model.identifier, loaded: !r.alreadyLoaded };
      },
      (e) => {
        failure = e ?? new Error("load failed");
      },
    )
    .finally(() => {
      settled = true;
      wake?.();
    });
  for (;;) {
    for (const progress of pending.splice(0)) yield progress;
    if (settled) break;
    await new Promise<void>((r) => {
      wake = r;
    });
    wake = undefined;
  }
  if (failure !== undefined || result === undefined) throw failure;
  return { ...result, ms: performance.now() - started };
}
