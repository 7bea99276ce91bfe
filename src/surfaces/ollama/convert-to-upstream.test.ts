import { describe, expect, it } from "vitest";
import { PNG_1x1 } from "../../../test/helpers/stack.ts";
import {
  generateToMessages,
  keepAliveSeconds,
  loadTtlSeconds,
  toImageUrl,
  toResponseFormat,
  toSamplingParams,
  toUpstreamMessages,
} from "./convert-to-upstream.ts";

describe("keep_alive", () => {
  it("reads numbers as seconds and strings as Go durations", () => {
    expect(keepAliveSeconds(undefined)).toBeUndefined();
    expect(keepAliveSeconds(300)).toBe(300);
    expect(keepAliveSeconds("5m")).toBe(300);
    expect(keepAliveSeconds("1h30m")).toBe(5400);
    expect(keepAliveSeconds("1.5s")).toBe(2);
    expect(keepAliveSeconds("300ms")).toBe(1);
    expect(keepAliveSeconds(0)).toBe(0);
    expect(keepAliveSeconds("0")).toBe(0);
    expect(keepAliveSeconds(-1)).toBe(Number.POSITIVE_INFINITY);
    expect(keepAliveSeconds("-1m")).toBe(Number.POSITIVE_INFINITY);
  });

  it("a load kept forever or unloaded right after gets no TTL", () => {
    expect(loadTtlSeconds(undefined)).toBeUndefined();
    expect(loadTtlSeconds(0)).toBe(-1);
    expect(loadTtlSeconds(Number.POSITIVE_INFINITY)).toBe(-1);
    expect(loadTtlSeconds(60)).toBe(60);
  });
});

describe("images", () => {
  it("sniffs the type of raw base64", () => {
    expect(toImageUrl(PNG_1x1, "images[0]", 1_000)).toBe(`data:image/png;base64,${PNG_1x1}`);
    expect(toImageUrl(`data:image/png;base64,${PNG_1x1}`, "images[0]", 1_000)).toBe(
      `data:image/png;base64,${PNG_1x1}`,
    );
  });

  it("names the image in its errors", () => {
    expect(() => toImageUrl("", "messages[0].images[1]", 1_000)).toThrow(
      /messages\[0\]\.images\[1\] is empty/,
    );
    expect(() => toImageUrl("abc", "images[0]", 1_000)).toThrow(/not valid base64/);
    expect(() => toImageUrl(btoa("hello world!"), "images[0]", 1_000)).toThrow(/not a JPEG, PNG or WebP/);
    expect(() => toImageUrl(PNG_1x1, "images[0]", 10)).toThrow(/MAX_IMAGE_BYTES/);
  });
});

describe("messages", () => {
  it("gives tool calls ids and pairs each tool result with its call", () => {
    const out = toUpstreamMessages(
      [
        { role: "user", content: "weather?" },
        {
          role: "assistant",
          content: "",
          tool_calls: [
            { function: { name: "a", arguments: { x: 1 } } },
            { function: { name: "b", arguments: {} } },
          ],
        },
        { role: "tool", content: "B", tool_name: "b" },
        { role: "tool", content: "A" },
      ],
      1_000,
    );
    expect(out[1]).toEqual({
      role: "assistant",
      content: "",
      tool_calls: [
        { id: "call_0", type: "function", function: { name: "a", arguments: '{"x":1}' } },
        { id: "call_1", type: "function", function: { name: "b", arguments: "{}" } },
      ],
    });
    expect(out[2]).toEqual({ role: "tool", content: "B", tool_call_id: "call_1" });
    expect(out[3]).toEqual({ role: "tool", content: "A", tool_call_id: "call_0" });
  });

  it("puts images after the text", () => {
    const [m] = toUpstreamMessages([{ role: "user", content: "what?", images: [PNG_1x1] }], 1_000);
    expect(m?.content).toEqual([
      { type: "text", text: "what?" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1x1}` } },
    ]);
  });

  it("generate: system then the prompt; template, raw and suffix are refused", () => {
    expect(generateToMessages({ model: "m", stream: false, prompt: "p", system: "s" }, 1_000)).toEqual([
      { role: "system", content: "s" },
      { role: "user", content: "p" },
    ]);
    expect(() => generateToMessages({ model: "m", stream: false, prompt: "p", template: "t" }, 1)).toThrow(
      /template/,
    );
    expect(() => generateToMessages({ model: "m", stream: false, prompt: "p", raw: true }, 1)).toThrow(/raw/);
    expect(() => generateToMessages({ model: "m", stream: false, prompt: "p", suffix: "x" }, 1)).toThrow(
      /suffix/,
    );
  });
});

describe("options and format", () => {
  it("map to OpenAI's fields; unlimited num_predict is no max_tokens", () => {
    expect(
      toSamplingParams({ temperature: 0, top_k: 5, num_predict: -1, stop: [], seed: 1, repeat_penalty: 1.1 }),
    ).toEqual({ temperature: 0, top_k: 5, seed: 1, repeat_penalty: 1.1 });
    expect(toSamplingParams({ num_predict: 10, num_gpu: 3 })).toEqual({ max_tokens: 10 });
  });

  it('"json" is any JSON object; a schema is a strict json_schema', () => {
    expect(toResponseFormat(undefined)).toBeUndefined();
    expect(toResponseFormat("")).toBeUndefined();
    expect(toResponseFormat("json")).toEqual({
      type: "json_schema",
      json_schema: { name: "json", schema: { type: "object" } },
    });
    expect(toResponseFormat({ type: "object" })).toEqual({
      type: "json_schema",
      json_schema: { name: "response", schema: { type: "object" }, strict: true },
    });
  });
});
