import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findModelSpan, spliceModel } from "./splice-model.ts";

const splice = (text: string, model: string) => {
  const buf = Buffer.from(text);
  return spliceModel(buf, findModelSpan(buf), model).toString();
};

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

  it("recognises an escaped key and replaces a non-string value", () => {
    expect(splice('{"mod\\u0065l":"a"}', "z")).toBe('{"mod\\u0065l":"z"}');
    expect(splice('{"model":null,"x":[1,{"y":"]"}]}', "z")).toBe('{"model":"z","x":[1,{"y":"]"}]}');
  });

  it("counts bytes, not characters, around multi-byte text", () => {
    const text = '{"content":"héllo 😀 \\u00e9","model":"a","tail":"ü"}';
    expect(splice(text, "ß")).toBe(text.replace('"a"', '"ß"'));
  });

  it("returns the same buffer when the name is already the one", () => {
    const buf = Buffer.from('{"model":"m"}');
    expect(spliceModel(buf, findModelSpan(buf), "m")).toBe(buf);
  });

  it("any JSON object: the result parses to the object with its model replaced", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.boolean(),
        fc.string(),
        fc.integer({ min: 0, max: 2 }),
        (obj, withModel, model, indent) => {
          const input = withModel ? { ...obj, model: "old" } : obj;
          const text = JSON.stringify(input, null, indent);
          const out = JSON.parse(splice(text, model));
          expect(out).toEqual({ ...JSON.parse(text), model });
        },
      ),
      { numRuns: 500 },
    );
  });
});
