/**
 * Errors: the one error type the core and the surfaces understand. Everything that can go wrong below them (LM Studio,
 * validation that schemas cannot express, admission) is turned into a ServiceError once, and the
 * error handler of each API surface turns it into that surface's HTTP shape once.
 */
export type ErrorCode =
  | "upstream_unreachable"
  | "upstream_timeout"
  | "upstream_error"
  | "upstream_auth_failed"
  | "upstream_incompatible"
  | "model_not_loaded"
  | "model_not_found"
  | "model_busy"
  | "no_models_loaded"
  | "nothing_to_unload"
  | "identifier_taken"
  | "unknown_upstream"
  | "not_supported"
  | "insufficient_memory"
  | "images_not_supported"
  | "invalid_image"
  | "invalid_request"
  | "invalid_json"
  | "unsupported_media_type"
  | "body_too_large"
  | "not_found"
  | "method_not_allowed"
  | "queue_full"
  | "queue_timeout"
  | "shutting_down"
  | "cancelled"
  | "unauthorized"
  | "internal_error";

export class ServiceError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  /** Extra JSON fields for the response body (e.g. close matches for an unknown model). */
  readonly extra: Record<string, unknown>;

  constructor(
    status: number,
    code: ErrorCode,
    message: string,
    opts: { headers?: Record<string, string>; extra?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = "ServiceError";
    this.status = status;
    this.code = code;
    this.headers = opts.headers ?? {};
    this.extra = opts.extra ?? {};
  }
}

export const isServiceError = (e: unknown): e is ServiceError => e instanceof ServiceError;

/** Anything thrown that is not a ServiceError is a bug of ours: never leak its text. */
export function toServiceError(error: unknown): ServiceError {
  if (error instanceof ServiceError) return error;
  return new ServiceError(500, "internal_error", "Internal server error", { cause: error });
}
