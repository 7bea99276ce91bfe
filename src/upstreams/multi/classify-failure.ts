import { isServiceError } from "../../errors.ts";
import { CONNECT_CODES, errnoCode } from "../upstream-errors.ts";

/**
 * What a failure before the answer's first byte means for routing:
 * - `down`: the upstream did not answer (refused, reset, unreachable): mark it down, try the next;
 * - `next`: it answered with a server error, or does not have the model: try the next, keep it up;
 * - `final`: the request itself is at fault, or was cancelled, or a retry would waste a generation
 *   that may still be running (a first-token timeout): the client gets this error.
 */
export type FailureKind = "down" | "next" | "final";

export function classifyFailure(error: unknown): FailureKind {
  if (!isServiceError(error)) return "final";
  const code = errnoCode(error.cause);
  if (error.code === "upstream_unreachable") return "down";
  if (code !== undefined && CONNECT_CODES.has(code)) return "down";
  if (error.code === "model_not_loaded" || error.code === "no_models_loaded") return "next";
  if (error.code === "upstream_timeout") return "final";
  if (error.status >= 500 && error.code !== "cancelled" && error.code !== "internal_error") return "next";
  return "final";
}
