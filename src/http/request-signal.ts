import type { FastifyReply } from "fastify";
import type { Lifecycle } from "./lifecycle.ts";

/**
 * An AbortSignal for one request: aborted when the client goes away before the response is
 * complete (so work upstream stops), or when shutdown's grace period is over.
 */
export function requestSignal(reply: FastifyReply, lifecycle: Lifecycle): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) controller.abort(new Error("client went away"));
  });
  return AbortSignal.any([controller.signal, lifecycle.shutdownSignal]);
}
