/**
 * Prototype of src/http/request-signal.ts without AbortSignal.any(): one plain AbortController per
 * request, aborted by the client going away or by the shutdown signal (a listener removed when the
 * response closes). AbortSignal.any() registers every request's signal with the long-lived
 * shutdown signal (weak references and a finalization registry): measurable per request.
 */
import type { FastifyReply } from "fastify";
import type { Lifecycle } from "../../../src/http/lifecycle.ts";

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
