import { describe, expect, it } from "vitest";
import { ServiceError } from "../../errors.ts";
import { connectionRefused, unrecognised, upstreamTimeout } from "../upstream-errors.ts";
import { classifyFailure } from "./classify-failure.ts";

const errno = (code: string) => Object.assign(new Error(code), { code });

describe("classifyFailure", () => {
  it("marks an upstream that did not answer down", () => {
    expect(classifyFailure(connectionRefused("x", "http://x"))).toBe("down");
    expect(
      classifyFailure(new ServiceError(502, "upstream_error", "lost", { cause: errno("ECONNRESET") })),
    ).toBe("down");
    expect(
      classifyFailure(
        new ServiceError(504, "upstream_timeout", "connect", { cause: errno("UND_ERR_CONNECT_TIMEOUT") }),
      ),
    ).toBe("down");
  });

  it("tries the next upstream after a server error or a model it does not have", () => {
    expect(classifyFailure(unrecognised("x", "to answer (HTTP 500)"))).toBe("next");
    expect(classifyFailure(new ServiceError(503, "model_not_loaded", "no"))).toBe("next");
  });

  it("gives the client its own errors, cancellations and first-token timeouts", () => {
    expect(classifyFailure(new ServiceError(400, "upstream_error", "rejected"))).toBe("final");
    expect(classifyFailure(new ServiceError(499, "cancelled", "gone"))).toBe("final");
    expect(classifyFailure(upstreamTimeout("x", "the first token", 10))).toBe("final");
    expect(classifyFailure(new Error("bug"))).toBe("final");
  });
});
