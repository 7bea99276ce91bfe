import { describe, expect, it } from "vitest";
import { closeMatches, editDistance } from "./close-matches.ts";

const keys = [
  "qwen/qwen3-4b-2507",
  "qwen3-vl-4b-instruct",
  "google/gemma-3-1b",
  "text-embedding-nomic-embed-text-v1.5",
];

describe("close matches", () => {
  it("edit distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("suggests keys for typos, missing publishers and partial names; nothing for unrelated text", () => {
    expect(closeMatches("qwen/qwen3-4b-2057", keys)[0]).toBe("qwen/qwen3-4b-2507");
    expect(closeMatches("gemma-3-1b", keys)).toEqual(["google/gemma-3-1b"]);
    expect(closeMatches("qwen3-vl-4b", keys)).toContain("qwen3-vl-4b-instruct");
    expect(closeMatches("llama-70b-completely-different", keys)).toEqual([]);
  });
});
