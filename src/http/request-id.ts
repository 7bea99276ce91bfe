import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

export const REQUEST_ID_HEADER = "x-request-id";

/**
 * A client's id is kept when it is one a log search can use: 1 to 128 letters, digits and
 * `._:/+=@-` (UUIDs, ULIDs, W3C trace ids, a proxy's ids). Anything else gets a fresh UUID rather
 * than an error: a bad correlation id is no reason to refuse a request.
 */
const WELL_FORMED = /^[\w.:/+=@-]{1,128}$/;

/** Fastify's `genReqId`: the client's X-Request-Id when well-formed, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === "string" && WELL_FORMED.test(given) ? given : randomUUID();
}

/**
 * An error body with the request's id as `request_id`, so that a user can quote it and we can find
 * the log lines (and the upstream's, which got it as X-Request-Id). Every surface's error renderer
 * passes its bodies through this.
 */
export function withRequestId<T extends object>(
  body: T,
  request: { id: string },
): T & { request_id: string } {
  return { ...body, request_id: request.id };
}
