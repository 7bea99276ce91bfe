import type { FastifyRequest } from "fastify";
import type { ServiceError } from "../../errors.ts";

/**
 * Logs what a client is not told, the same way on every surface: our bugs at error; upstream
 * failures at warn, with the upstream's own text (which never goes into an answer).
 */
export function logServiceError(request: FastifyRequest, error: ServiceError): void {
  if (error.status >= 500 && error.code === "internal_error") {
    request.log.error({ err: error.cause ?? error }, "internal error");
  } else if (error.status >= 500 || error.code.startsWith("upstream")) {
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    request.log.warn({ code: error.code, ...(cause && { upstream: cause }) }, error.message);
  }
}
