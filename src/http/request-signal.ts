import type { FastifyReply } from "fastify";
import type { Lifecycle } from "./lifecycle.ts";

/**
 * An AbortSignal for one request: aborted when the client goes away before the response is
 * complete (so work upstream stops), or when shutdown's grace period is over.
 *
 * A plain controller, called from the lifecycle's set of shutdown calls and removed on close,
 * rather than AbortSignal.any() (which registers every request with the long-lived shutdown signal
 * through weak references) or a listener on that signal (whose adding and removing walk the
 * listeners of every other request in flight).
 */
export function requestSignal(reply: FastifyReply, lifecycle: Lifecycle): AbortSignal {
  const controller = new AbortController();
  const shutdown = lifecycle.shutdownSignal;
  if (shutdown.aborted) {
    controller.abort(shutdown.reason);
    return controller.signal;
  }
  const forget = lifecycle.atShutdown(() => controller.abort(shutdown.reason));
  reply.raw.once("close", () => {
    forget();
    if (!reply.raw.writableFinished) controller.abort(new Error("client went away"));
  });
  return controller.signal;
}
