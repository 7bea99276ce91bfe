import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonSkeleton } from "../../http/json-skeleton.ts";
import { spliceModel } from "./splice-model.ts";

/** The body as it would arrive in chunks of `size` bytes (boundaries anywhere, mid-character too). */
function scan(text: string, size = 7): JsonSkeleton {
  const buf = Buffer.from(text);
  const body = new JsonSkeleton(8);
  for (let i = 0; i < buf.length; i += size) body.write(buf.subarray(i, i + size));
  return body;
}

const splice = (text: string, model: string, size?: number) =>
  Buffer.concat(spliceModel(scan(text, size), model)).toString();

describe("spliceModel", () => {
  it("replaces the model's value and leaves every other byte alone", () => {
    const text =
      '{ "messages" : [{"role":"user","content":"a \\"model\\": x"}],\n "model" : "gpt-4o" , "n":2 }';
    expect(splice(text, "qwen/qwen3-4b-2507")).toBe(text.replace('"gpt-4o"', '"qwen/qwen3-4b-2507"'));
  });

  it("inserts the model first when there is none", () => {
    expect(splice('{"messages":[]}', "m")).toBe('{"model":"m","messages":[]}');
    expect(splice(" { } ", "m")).toBe(' {"model":"m" } ');
  });

  it('finds a nested "model" only at the top level, and the last of duplicates', () => {
    expect(splice('{"a":{"model":"x"},"model":"y"}', "z")).toBe('{"a":{"model":"x"},"model":"z"}');
    expect(splice('{"model":"a","model":"b"}', "z")).toBe('{"model":"a","model":"z"}');
  });

  it("recognises an escaped key, and brackets inside strings", () => {
    expect(splice('{"mod\\u0065l":"a"}', "z")).toBe('{"mod\\u0065l":"z"}');
    expect(splice('{"model":"a","x":[1,{"y":"]"}]}', "z")).toBe('{"model":"z","x":[1,{"y":"]"}]}');
  });

  it("counts bytes, not characters, around multi-byte text", () => {
    const text = '{"content":"héllo 😀 \\u00e9","model":"a","tail":"ü"}';
    expect(splice(text, "ß")).toBe(text.replace('"a"', '"ß"'));
  });

  it("sends the chunks themselves, not copies, when the name is already the one", () => {
    const body = scan('{"model":"m","messages":[]}', 5);
    const pieces = spliceModel(body, "m");
    expect(pieces.map((p) => p.buffer)).toEqual(body.chunks.map((c) => c.buffer));
    expect(Buffer.concat(pieces).toString()).toBe('{"model":"m","messages":[]}');
  });

  it("any JSON object: the result parses to the object with its model replaced", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string().filter((k) => k !== "model"),
          fc.jsonValue(),
        ),
        fc.boolean(),
        fc.string(),
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 1, max: 40 }),
        (obj, withModel, model, indent, size) => {
          const input = withModel ? { ...obj, model: "old" } : obj;
          const text = JSON.stringify(input, null, indent);
          const out = JSON.parse(splice(text, model, size));
          expect(out).toEqual({ ...JSON.parse(text), model });
        },
      ),
      { numRuns: 500 },
    );
  });
});
