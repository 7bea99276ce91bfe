import type { FastifyReply } from "fastify";
import type { Lifecycle } from "./lifecycle.ts";

/**
 * An AbortSignal for one request: aborted when the client goes away before the response is
 * complete (so work upstream stops), or when shutdown's grace period is over.
 *
 * A plain controller with a listener removed on close, rather than AbortSignal.any(): that one
 * registers every request with the long-lived shutdown signal through weak references, a cost
 * measured on every request.
 */
export function requestSignal(reply: FastifyReply, lifecycle: Lifecycle): AbortSignal {
  const controller = new AbortController();
  const shutdown = lifecycle.shutdownSignal;
  if (shutdown.aborted) {
    controller.abort(shutdown.reason);
    return controller.signal;
  }
  const onShutdown = () => controller.abort(shutdown.reason);
  shutdown.addEventListener("abort", onShutdown, { once: true });
  reply.raw.once("close", () => {
    shutdown.removeEventListener("abort", onShutdown);
    if (!reply.raw.writableFinished) controller.abort(new Error("client went away"));
  });
  return controller.signal;
}
