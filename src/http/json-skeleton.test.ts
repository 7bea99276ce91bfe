import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonSkeleton } from "./json-skeleton.ts";

function scan(bytes: Buffer, size: number, minCut: number): JsonSkeleton {
  const body = new JsonSkeleton(minCut);
  for (let i = 0; i < bytes.length; i += size) body.write(bytes.subarray(i, i + size));
  return body;
}

/** What JSON.parse makes of the bytes, or "error"; decoded as the service decodes (fatal UTF-8, BOM kept). */
function reference(bytes: Buffer): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    return "error";
  }
}

function skeleton(bytes: Buffer, size: number, minCut: number, standIn = ""): unknown {
  try {
    return scan(bytes, size, minCut).parse(() => standIn);
  } catch {
    return "error";
  }
}

/**
 * The value with every string below the top level replaced by "" when its JSON.stringify form
 * (which is how the property tests write it) is plain ASCII of at least minCut bytes.
 */
function cutLongStrings(value: unknown, minCut: number, depth = 0): unknown {
  if (typeof value === "string") {
    const raw = JSON.stringify(value);
    return depth >= 2 && /^[\x20-\x7e]*$/.test(raw) && raw.length - 2 >= minCut ? "" : value;
  }
  if (Array.isArray(value)) return value.map((v) => cutLongStrings(v, minCut, depth + 1));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, cutLongStrings(v, minCut, depth + 1)]),
    );
  }
  return value;
}

/** Whether `got` is `expected` with some strings below the top level replaced by "". */
function equalModuloCuts(got: unknown, expected: unknown, depth = 0): boolean {
  if (typeof expected === "string") return got === expected || (depth >= 2 && got === "");
  if (Array.isArray(expected)) {
    return (
      Array.isArray(got) &&
      got.length === expected.length &&
      expected.every((v, i) => equalModuloCuts(got[i], v, depth + 1))
    );
  }
  if (expected !== null && typeof expected === "object") {
    if (got === null || typeof got !== "object" || Array.isArray(got)) return false;
    const keys = Object.keys(expected);
    return (
      keys.length === Object.keys(got).length &&
      keys.every((k) =>
        equalModuloCuts(
          (got as Record<string, unknown>)[k],
          (expected as Record<string, unknown>)[k],
          depth + 1,
        ),
      )
    );
  }
  return Object.is(got, expected);
}

const chunkSize = fc.integer({ min: 1, max: 64 });

describe("JsonSkeleton", () => {
  it("cuts long nested strings out of the parse and keeps the bytes as they came", () => {
    const image = "iVBORw0KGgo".repeat(1000);
    const text = `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,${image}"}}]}]}`;
    const bytes = Buffer.from(text);
    const body = scan(bytes, 1000, 1024);
    expect(body.cuts).toHaveLength(1);
    const cut = body.cuts[0] as { start: number; end: number };
    expect(Buffer.concat(body.slices(cut.start, cut.end)).toString()).toBe(`data:image/png;base64,${image}`);
    expect(body.parse(() => "cut")).toEqual({
      model: "m",
      messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "cut" } }] }],
    });
    expect(Buffer.concat(body.chunks).equals(bytes)).toBe(true);
  });

  it("never cuts a key, a top-level value, or a string with escapes or non-ASCII in it that JSON.parse must judge", () => {
    const long = "x".repeat(50);
    const text = JSON.stringify({ [long]: long, a: [long, `${long}é`, `${long}\n`] });
    const body = scan(Buffer.from(text), 7, 10);
    // Only a[0] and a[2] (whose escape is valid) are cut; the key, the top-level value and the é are kept.
    expect(body.cuts).toHaveLength(2);
    expect(body.parse(() => "")).toEqual({ [long]: long, a: ["", `${long}é`, ""] });
  });

  it("cuts a long string whose escapes are all valid, \\u ones included", () => {
    const text = `{"a":["${"x".repeat(20)}\\u00e9\\n\\"\\/"]}`;
    const body = scan(Buffer.from(text), 3, 10);
    expect(body.cuts).toHaveLength(1);
    expect(body.parse(() => "")).toEqual({ a: [""] });
  });

  it("refuses what JSON.parse refuses, wherever the error hides (inside a string that would be cut, too)", () => {
    const long = "A".repeat(40);
    for (const bad of [
      `{"a":["${long}\\x"]}`, // an invalid escape
      `{"a":["${long}\\u12G4"]}`, // an invalid \\u escape
      `{"a":["${long}\u0001"]}`, // a raw control character
      `{"a":["${long}"]`, // unclosed
      `{"a":["${long}" "${long}"]}`, // a missing comma between two cut strings
      `{"a":[x"${long}"]}`,
      `\ufeff{"a":["${long}"]}`, // a BOM
      `{"a":["${long}"]} x`,
      "",
    ]) {
      expect(skeleton(Buffer.from(bad), 5, 10), bad).toBe("error");
    }
    // Invalid UTF-8 inside a long string: kept (not plain), so the decoder refuses it.
    const invalid = Buffer.concat([
      Buffer.from(`{"a":["${long}`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"]}'),
    ]);
    expect(skeleton(invalid, 3, 10)).toBe("error");
  });

  it("finds the last top-level string model, with its quotes, and where a new one would go", () => {
    const text = '  { "a": {"model": "x"}, "model" : "first", "model":"second" }';
    const body = scan(Buffer.from(text), 3, 100);
    const [start, end] = body.model.value as [number, number];
    expect(Buffer.concat(body.slices(start, end)).toString()).toBe('"second"');
    expect(body.model.open).toBe(text.indexOf("{") + 1);
    expect(body.model.hasMembers).toBe(true);
    const empty = scan(Buffer.from("{ }"), 1, 100);
    expect(empty.model).toEqual({ open: 1, hasMembers: false });
    // A later "model" that is not a string leaves no span (JSON.parse keeps the last one).
    expect(scan(Buffer.from('{"model":"a","model":5}'), 2, 100).model.value).toBeUndefined();
  });

  it("long base64 runs (read four bytes at a time): any byte planted anywhere, at any alignment", () => {
    const run = "QUJDRA+/".repeat(40); // 320 base64 characters
    for (const planted of ['"', "\u0001", "é", "*", "=", "\\n", "\\x"]) {
      for (let at = 0; at <= 80; at++) {
        const text = `{"a":["${run.slice(0, at)}${planted}${run.slice(at)}"]}`;
        const bytes = Buffer.from(text);
        for (const [size, shift] of [
          [1_000, 0],
          [1_000, 1],
          [67, 2],
          [64, 3],
        ] as const) {
          // A view that starts `shift` bytes into its ArrayBuffer: 32-bit reads must realign.
          const shifted = Buffer.concat([Buffer.alloc(shift), bytes]).subarray(shift);
          const body = new JsonSkeleton(10);
          for (let i = 0; i < shifted.length; i += size) body.write(shifted.subarray(i, i + size));
          let got: unknown;
          try {
            got = body.parse(() => "");
          } catch {
            got = "error";
          }
          const expected = reference(bytes);
          expect(
            expected === "error" ? got === "error" : equalModuloCuts(got, expected),
            `${planted} at ${at}`,
          ).toBe(true);
          const cut = body.cuts[0];
          if (cut && !cut.escaped && expected !== "error") {
            // The lexer's facts about the string: its last symbol and first "=", exactly.
            const content = text.slice(text.indexOf('["') + 2, text.lastIndexOf('"]'));
            const symbols = [...content].map((c, i) => (/[A-Za-z0-9+/=]/.test(c) ? -1 : i));
            expect(cut.lastSymbol).toBe(Math.max(-1, ...symbols));
            expect(cut.firstPad).toBe(content.indexOf("="));
          }
        }
      }
    }
  });

  it("any JSON text, in any chunks: the same value as JSON.parse, long nested strings cut", () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        chunkSize,
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 2 }),
        (value, size, minCut, indent) => {
          const bytes = Buffer.from(JSON.stringify(value, null, indent) ?? "null");
          expect(skeleton(bytes, size, minCut)).toEqual(cutLongStrings(reference(bytes), minCut));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("any bytes, in any chunks: refused exactly when JSON.parse refuses them", () => {
    const nearlyJson = fc
      .tuple(
        fc.jsonValue(),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom("", "\\", '"', "\\u", "\u0001", "\\x", ",", "]", "é"),
      )
      .map(([value, at, insert]) => {
        const text = JSON.stringify(value) ?? "null";
        const i = at % (text.length + 1);
        return Buffer.from(text.slice(0, i) + insert + text.slice(i));
      });
    fc.assert(
      fc.property(
        fc.oneof(
          nearlyJson,
          fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
        ),
        chunkSize,
        fc.integer({ min: 0, max: 8 }),
        (bytes, size, minCut) => {
          const expected = reference(bytes);
          const got = skeleton(bytes, size, minCut);
          if (expected === "error") expect(got).toBe("error");
          else expect(equalModuloCuts(got, expected)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
