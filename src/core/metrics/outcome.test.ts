import { describe, expect, it } from "vitest";
import { ServiceError } from "../../errors.ts";
import { chatOutcomeOf, loadOutcomeOf } from "./outcome.ts";

const e = (status: number, code: ConstructorParameters<typeof ServiceError>[1]) =>
  new ServiceError(status, code, "x");

describe("chatOutcomeOf", () => {
  it.each([
    [e(499, "cancelled"), "cancelled"],
    [e(503, "shutting_down"), "cancelled"],
    [e(504, "upstream_timeout"), "timeout"],
    [e(502, "upstream_error"), "upstream_error"],
    [e(400, "upstream_error"), "upstream_error"],
    [e(503, "upstream_unreachable"), "upstream_error"],
    [e(502, "upstream_auth_failed"), "upstream_error"],
    [e(503, "model_not_loaded"), "upstream_error"],
    [e(429, "queue_full"), "rejected"],
    [e(429, "queue_timeout"), "rejected"],
    [e(404, "model_not_found"), "rejected"],
    [e(409, "model_busy"), "rejected"],
    [e(500, "internal_error"), "error"],
    [new Error("bug"), "error"],
  ] as const)("%o is %s", (error, outcome) => {
    expect(chatOutcomeOf(error)).toBe(outcome);
  });
});

describe("loadOutcomeOf", () => {
  it.each([
    [e(499, "cancelled"), "cancelled"],
    [e(504, "upstream_timeout"), "timeout"],
    [e(502, "upstream_error"), "error"],
    [e(507, "insufficient_memory"), "error"],
    [new Error("bug"), "error"],
  ] as const)("%o is %s", (error, outcome) => {
    expect(loadOutcomeOf(error)).toBe(outcome);
  });
});
