import { describe, expect, it } from "vitest";
import { Lifecycle } from "./lifecycle.ts";

describe("Lifecycle.atShutdown", () => {
  it("calls what is still registered when the grace period ends, once, after the shutdown signal aborts", () => {
    const lifecycle = new Lifecycle();
    const calls: string[] = [];
    lifecycle.shutdownSignal.addEventListener("abort", () => calls.push("signal"));
    lifecycle.atShutdown(() => calls.push(`a:${lifecycle.shutdownSignal.aborted}`));
    const forgetB = lifecycle.atShutdown(() => calls.push("b"));
    lifecycle.atShutdown(() => calls.push("c"));
    forgetB();
    lifecycle.abortAll();
    lifecycle.abortAll();
    expect(calls).toEqual(["signal", "a:true", "c"]);
  });
});
