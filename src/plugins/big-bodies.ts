import fp from "fastify-plugin";
import { type BodyBuffers, offerBodyBuffer } from "../http/body-buffers.ts";

/** A body this large (by its Content-Length) is read into a lent buffer and followed by one minor collection. */
export const BIG_BODY_BYTES = 4 * 1024 * 1024;

/** V8's collector, as `--expose-gc` exposes it (`npm start` does). */
export type Collect = (options: { type: "minor" }) => void;

/**
 * What a request body of megabytes (an image) gets, so that the service holds it once, whenever V8
 * collects: a reusable buffer to read it into (see http/body-buffers.ts: each socket chunk is then
 * garbage as soon as it is copied), given back when the response closes, and after that one minor
 * GC, a scavenge, which frees those chunks while they are still young.
 *
 * Why the collection: each chunk is a small JS object over 64 KiB of memory outside the heap, and
 * that memory goes back only when V8 collects the object. With
 * `--external-memory-accounted-in-global-limit` (see docs/ARCHITECTURE.md), that waits for the
 * heap's own limit, so a service sent only images held several bodies' chunks until then. A
 * scavenge takes a few milliseconds (not a full mark-compact). Without `--expose-gc` there is no
 * collection; the buffers are lent all the same.
 *
 * Keys and draining run first: a request refused before its body is read never borrows a buffer.
 * A smaller request costs one header check.
 */
export const bigBodiesPlugin = fp<{ buffers: BodyBuffers; collect: Collect | undefined }>(
  async (app, { buffers, collect }) => {
    const run = collect && (() => collect({ type: "minor" }));
    // A callback hook, not an async one: no promise per request on this path.
    app.addHook("onRequest", (request, reply, done) => {
      if (Number(request.headers["content-length"]) >= BIG_BODY_BYTES) {
        offerBodyBuffer(request, reply.raw, buffers);
        // After the handler's own work is over, not inside it: the body is unreferenced by then.
        if (run) reply.raw.once("close", () => setImmediate(run));
      }
      done();
    });
  },
  { name: "big-bodies" },
);

/** The collector when Node runs with `--expose-gc`, else undefined. */
export function exposedCollector(): Collect | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? (gc as Collect) : undefined;
}
