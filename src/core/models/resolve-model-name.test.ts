import { describe, expect, it } from "vitest";
import { resolveModelName } from "./resolve-model-name.ts";

describe("resolveModelName", () => {
  const keys = ["qwen/qwen3-4b-2507", "google/gemma-3-1b", "Mixed/Case", "mixed/case"];

  it("prefers the exact name", () => {
    expect(resolveModelName("Mixed/Case", keys)).toEqual({ kind: "found", name: "Mixed/Case" });
  });

  it("falls back to the one name that differs only in case", () => {
    expect(resolveModelName("Qwen/Qwen3-4B-2507", keys)).toEqual({
      kind: "found",
      name: "qwen/qwen3-4b-2507",
    });
  });

  it("refuses to guess between two names that differ only in case", () => {
    expect(resolveModelName("MIXED/CASE", keys)).toEqual({
      kind: "ambiguous",
      candidates: ["Mixed/Case", "mixed/case"],
    });
  });

  it("says when nothing matches", () => {
    expect(resolveModelName("qwen/qwen3-8b", keys)).toEqual({ kind: "missing" });
  });
});
