/**
 * The SDK's download() (lmstudio-js `ModelSearchResultDownloadOption.ts`, 1.5 through 2.0) chains
 * `promise.finally(...)` off its own promise and drops the result: every failed or cancelled
 * download is also an unhandled rejection, which ends a Node process. While our downloads run, a
 * process listener swallows exactly those rejections (the errors our own `await` already caught)
 * and rethrows any other, so that the process fails on foreign rejections as it would without it.
 */
const caught = new WeakSet<object>();
let running = 0;

function onUnhandled(reason: unknown): void {
  if (typeof reason === "object" && reason !== null && caught.has(reason)) return;
  throw reason;
}

export async function guardDownloadRejections<T>(run: () => Promise<T>): Promise<T> {
  if (running++ === 0) process.on("unhandledRejection", onUnhandled);
  try {
    return await run();
  } catch (error) {
    if (typeof error === "object" && error !== null) caught.add(error);
    throw error;
  } finally {
    // Node reports unhandled rejections once the microtasks have run: stay until then.
    setImmediate(() => {
      if (--running === 0) process.off("unhandledRejection", onUnhandled);
    });
  }
}
