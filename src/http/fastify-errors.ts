import type { FastifyError, FastifyRequest } from "fastify";
import { ServiceError, toServiceError } from "../errors.ts";

/**
 * Fastify's own client errors (content type, body size, malformed JSON) as ServiceErrors with our
 * codes and messages that say what to fix, so that every surface renders them in its own shape and
 * no `FST_ERR_*` code reaches a client. Anything else unknown is an internal error.
 */
export function fromFastifyError(
  error: FastifyError,
  request: FastifyRequest,
  maxBodyBytes: number,
): ServiceError {
  if (error instanceof ServiceError) return error;
  const status = typeof error.statusCode === "number" ? error.statusCode : 500;
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      if (status === 415) {
        const type = request.headers["content-type"] ?? "none";
        return new ServiceError(
          415,
          "unsupported_media_type",
          `Unsupported Media Type "${type}": send Content-Type: application/json`,
        );
      }
      break;
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ServiceError(
        413,
        "body_too_large",
        `The body is larger than ${maxBodyBytes} bytes, the limit set by MAX_BODY_BYTES: send less (smaller or fewer images)`,
      );
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      // The parser drops its reason; a valid document with a "__proto__" key lands here too.
      return new ServiceError(
        400,
        "invalid_json",
        'Body is not valid JSON (or it has a forbidden "__proto__" or "constructor" key)',
      );
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ServiceError(400, "invalid_json", "The body is empty: send a JSON object");
  }
  if (status === 415) {
    return new ServiceError(
      415,
      "unsupported_media_type",
      `Unsupported Media Type "${request.headers["content-type"] ?? "none"}": send Content-Type: application/json`,
    );
  }
  if (status >= 400 && status < 500) {
    // Another client error of Fastify's: its message is about the request, never about internals.
    return new ServiceError(status, "invalid_request", error.message.replace(/^FST_\w+:?\s*/, ""));
  }
  return toServiceError(error);
}
