import { describe, expect, it } from "vitest";
import { rankMembers } from "./rank-members.ts";

const m = (name: string, inflight: number, capacity = 4, weight = 1, loadedCount = 0) => ({
  name,
  inflight,
  capacity,
  weight,
  loadedCount,
});
const names = (list: Array<{ name: string }>) => list.map((x) => x.name);

describe("rankMembers", () => {
  it("puts the least busy relative to its capacity first", () => {
    expect(names(rankMembers([m("a", 3, 4), m("b", 4, 16), m("c", 1, 4)]))).toEqual(["b", "c", "a"]);
  });

  it("gives a weight-2 upstream twice the share", () => {
    const a = m("a", 0, 4, 2);
    const b = m("b", 0, 4, 1);
    const sent = { a: 0, b: 0 };
    for (let i = 0; i < 12; i++) {
      const [first] = rankMembers([a, b]);
      if (!first) throw new Error("empty");
      first.inflight++;
      sent[first.name as "a" | "b"]++;
    }
    expect(sent).toEqual({ a: 8, b: 4 });
  });

  it("breaks ties by fewer loaded models, then by configured order", () => {
    expect(names(rankMembers([m("a", 0, 4, 1, 2), m("b", 0, 4, 1, 1), m("c", 0, 4, 1, 1)]))).toEqual([
      "b",
      "c",
      "a",
    ]);
  });
});
