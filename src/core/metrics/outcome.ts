import { type ErrorCode, isServiceError } from "../../errors.ts";
import type { ChatOutcome, LoadOutcome } from "./observer.ts";

const CANCELLED: ReadonlySet<ErrorCode> = new Set(["cancelled", "shutting_down"]);

/**
 * How a chat that threw ended, for the `outcome` label. Ours to refuse (429, an unknown model, an
 * image the model cannot read) is `rejected`; the upstream's failures are `upstream_error`, its
 * silence `timeout`; anything else thrown is a bug of ours (`error`).
 */
export function chatOutcomeOf(error: unknown): ChatOutcome {
  if (!isServiceError(error)) return "error";
  if (CANCELLED.has(error.code)) return "cancelled";
  if (error.code === "upstream_timeout") return "timeout";
  if (error.code.startsWith("upstream")) return "upstream_error";
  if (error.status < 500) return "rejected";
  if (error.code === "internal_error") return "error";
  // 5xx of the upstream's making: unreachable, not loaded, out of memory.
  return "upstream_error";
}

/** How an upstream load that threw ended, for the `outcome` label. */
export function loadOutcomeOf(error: unknown): LoadOutcome {
  if (!isServiceError(error)) return "error";
  if (CANCELLED.has(error.code)) return "cancelled";
  if (error.code === "upstream_timeout") return "timeout";
  return "error";
}
