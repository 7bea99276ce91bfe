import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { throttleProgress } from "./throttle-progress.ts";

describe("throttleProgress", () => {
  // The throttle reads performance.now(): fake it, and move the clock by hand.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("passes the first value and 1.0, and at most one value per interval in between", () => {
    const seen: number[] = [];
    const report = throttleProgress(50, (p) => seen.push(p));
    for (const p of [0.1, 0.2, 0.3]) report(p);
    expect(seen).toEqual([0.1]);
    vi.advanceTimersByTime(49);
    report(0.4);
    expect(seen).toEqual([0.1]);
    vi.advanceTimersByTime(1);
    for (const p of [0.6, 0.7]) report(p);
    expect(seen).toEqual([0.1, 0.6]);
    report(1);
    expect(seen).toEqual([0.1, 0.6, 1]);
  });

  it("measures the interval from the last value it passed, not from the last call", () => {
    const seen: number[] = [];
    const report = throttleProgress(100, (p) => seen.push(p));
    report(0.1);
    for (let t = 0; t < 9; t++) {
      vi.advanceTimersByTime(10);
      report(0.2 + t / 100);
    }
    expect(seen).toEqual([0.1]);
    vi.advanceTimersByTime(10);
    report(0.5);
    expect(seen).toEqual([0.1, 0.5]);
  });
});
