import fp from "fastify-plugin";

/** A body this large (by its Content-Length) is followed by one minor collection. */
export const BIG_BODY_BYTES = 4 * 1024 * 1024;

/** V8's collector, as `--expose-gc` exposes it (`npm start` does). */
export type Collect = (options: { type: "minor" }) => void;

/**
 * After the response to a request body of megabytes (an image), one minor GC: a scavenge, which
 * frees the body's socket chunks at once.
 *
 * Why: each chunk is a small JS object over 64 KiB of memory outside the heap, and that memory goes
 * back only when V8 collects the object. With `--external-memory-accounted-in-global-limit` (see
 * docs/ARCHITECTURE.md), that waits for the heap's own limit, so a service sent only images held
 * about three bodies (40 MB for 13 MB bodies) until then. The chunks arrive between two scavenges,
 * so they are still young when the response ends, and a scavenge (a few milliseconds; not a full
 * mark-compact) frees them. Without `--expose-gc` this plugin adds nothing.
 */
export const collectBigBodiesPlugin = fp<{ collect: Collect | undefined }>(
  async (app, { collect }) => {
    if (collect === undefined) return;
    const run = () => collect({ type: "minor" });
    // A callback hook, not an async one: no promise per request on this path.
    app.addHook("onResponse", (request, _reply, done) => {
      // After the handler's own work is over, not inside it: the body is unreferenced by then.
      if (Number(request.headers["content-length"]) >= BIG_BODY_BYTES) setImmediate(run);
      done();
    });
  },
  { name: "collect-big-bodies" },
);

/** The collector when Node runs with `--expose-gc`, else undefined. */
export function exposedCollector(): Collect | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? (gc as Collect) : undefined;
}
