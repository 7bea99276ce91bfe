import { isServiceError, ServiceError } from "../../errors.ts";
import type { LoadedModel, LoadOptions, ModelManager } from "../types.ts";

export interface LoadOncePerHostOptions {
  /** Between two looks at the loaded list while another instance loads. */
  pollMs: number;
  /** Between two attempts of our own load, in case the other instance's load failed. */
  retryMs: number;
  /** Longest wait for the other instance's load. */
  timeoutMs: number;
}

const sameKey = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Loads under an explicit identifier (the model key unless one is given), so that LM Studio itself
 * refuses a second copy when another service instance loads the same model on the same host at
 * the same moment ("already exists", identifier_taken). The loser then waits for the winner's
 * instance to be listed, instead of stacking `key:2`. An identifier taken by another model is the
 * caller's error, reported as it is.
 */
export async function loadOncePerHost(
  models: Pick<ModelManager, "load" | "listLoaded">,
  opts: LoadOptions,
  timing: LoadOncePerHostOptions,
): Promise<LoadedModel> {
  const identifier = opts.identifier ?? opts.modelKey;
  const attempt = () => models.load({ ...opts, identifier });
  try {
    return await attempt();
  } catch (error) {
    if (!isServiceError(error) || error.code !== "identifier_taken") throw error;
    const deadline = performance.now() + timing.timeoutMs;
    let nextAttempt = performance.now() + timing.retryMs;
    for (;;) {
      const found = (await models.listLoaded()).find((m) => m.identifier === identifier);
      if (found) {
        if (sameKey(found.modelKey, opts.modelKey)) return found;
        throw error;
      }
      if (performance.now() > deadline) {
        throw new ServiceError(
          504,
          "upstream_timeout",
          `Another instance was loading "${identifier}" on this host and it did not appear within ${timing.timeoutMs} ms`,
          { cause: error },
        );
      }
      await sleep(timing.pollMs, opts.signal, identifier);
      if (performance.now() >= nextAttempt) {
        nextAttempt = performance.now() + timing.retryMs;
        // The other load may have failed, freeing the identifier: then ours is the one load.
        try {
          return await attempt();
        } catch (retryError) {
          if (!isServiceError(retryError) || retryError.code !== "identifier_taken") throw retryError;
        }
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined, identifier: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const cancelled = () =>
      new ServiceError(499, "cancelled", `Cancelled while waiting for "${identifier}" to load`);
    if (signal?.aborted) return reject(cancelled());
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
