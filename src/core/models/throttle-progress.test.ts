import { describe, expect, it } from "vitest";
import { throttleProgress } from "./throttle-progress.ts";

describe("throttleProgress", () => {
  it("passes the first value and 1.0, and at most one value per interval in between", async () => {
    const seen: number[] = [];
    const report = throttleProgress(50, (p) => seen.push(p));
    for (const p of [0.1, 0.2, 0.3]) report(p);
    await new Promise((r) => setTimeout(r, 60));
    for (const p of [0.6, 0.7, 1]) report(p);
    expect(seen).toEqual([0.1, 0.6, 1]);
  });
});
