import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Chunk, ChunkReader } from "./parse-chunk.ts";

/** What the chat engine reads of a chunk: the reader must give the same as JSON.parse. */
function seen(chunk: Chunk) {
  const choice = chunk.choices?.[0];
  const delta = (choice?.delta ?? {}) as Record<string, unknown>;
  return {
    error: chunk.error,
    model: chunk.model,
    usage: chunk.usage,
    finish: choice?.finish_reason,
    content: delta.content,
    reasoning_content: delta.reasoning_content,
    reasoning: delta.reasoning,
    tool_calls: delta.tool_calls,
  };
}

const head = (id: string, created: number, model: string) =>
  `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":${JSON.stringify(model)},"choices":[{"index":0,"delta":{`;
const TAIL = `},"logprobs":null,"finish_reason":null}]}`;

/** Tokens: plain words mostly, and what a plain token must not be (quotes, escapes, controls, non-ASCII). */
const token = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[ a-zA-Z0-9.,!?'-]{1,8}$/) },
  { weight: 2, arbitrary: fc.string({ minLength: 0, maxLength: 6, unit: "binary" }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('"', "\\", "\n", "\t", "\u0000", "é", "👋", "\\u0041", `"}${TAIL}`),
  },
);

/** A text chunk, with the token written as JSON.stringify writes it, or with needless \u escapes. */
const rarely = fc.integer({ min: 0, max: 9 }).map((n) => n === 0);
const textEvent = fc.record({
  key: fc.oneof(
    { weight: 8, arbitrary: fc.constant("content") },
    { weight: 1, arbitrary: fc.constantFrom("reasoning_content", "reasoning") },
  ),
  text: token,
  role: rarely,
  escapeAll: rarely,
});

const otherEvent = fc.constantFrom(
  `{"id":"x","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
  `{"error":{"message":"boom"}}`,
  `{"id":"x","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
  `{"id":"x","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":null}]}`,
  `{ "id": "x", "model": "m", "choices": [ { "index": 0, "delta": { "content": "spaced" }, "finish_reason": null } ] }`,
  `{"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"a","content":"twice"},"finish_reason":null}]}`,
);

const escapeAll = (s: string) =>
  [...s].map((c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0").slice(-4)}`).join("");

describe("ChunkReader", () => {
  it("reads every chunk as JSON.parse does, whatever the tokens, keys, layout and order", () => {
    let skipped = 0;
    fc.assert(
      fc.property(
        fc.string({ maxLength: 12 }),
        fc.constantFrom("qwen/qwen3-4b-2507", 'a "quoted" model', "m"),
        fc.array(fc.oneof({ weight: 5, arbitrary: textEvent }, { weight: 1, arbitrary: otherEvent }), {
          maxLength: 30,
        }),
        (id, model, events) => {
          const reader = new ChunkReader();
          const h = head(id, 1_733_000_000, model);
          for (const e of events) {
            const data =
              typeof e === "string"
                ? e
                : `${h}${e.role ? `"role":"assistant",` : ""}"${e.key}":${
                    e.escapeAll && e.text !== "" ? `"${escapeAll(e.text)}"` : JSON.stringify(e.text)
                  }${TAIL}`;
            expect(seen(reader.read(data))).toEqual(seen(JSON.parse(data) as Chunk));
          }
          skipped += reader.skipped;
        },
      ),
      { numRuns: 3000 },
    );
    // The runs went through the reader's shortcut, not only through JSON.parse.
    expect(skipped).toBeGreaterThan(3000);
  });

  it("parses only the first of a run of plain tokens, and whatever breaks the run", () => {
    const reader = new ChunkReader();
    const h = head("chatcmpl-1", 1_733_000_000, "qwen/qwen3-4b-2507");
    const text = (t: string, key = "content") => `${h}"${key}":${JSON.stringify(t)}${TAIL}`;
    const texts: string[] = [];
    for (const t of ["Hello", ",", " world", " again"])
      texts.push(reader.read(text(t)).choices[0]?.delta.content ?? "");
    expect(texts).toEqual(["Hello", ",", " world", " again"]);
    expect(reader.skipped).toBe(3);
    // A token with an escape is parsed; the layout it learns from is the plain token's again after it.
    expect(reader.read(text('say "hi"')).choices[0]?.delta.content).toBe('say "hi"');
    expect(reader.skipped).toBe(3);
    expect(reader.read(text("!")).choices[0]?.delta.content).toBe("!");
    expect(reader.skipped).toBe(3); // learned from "!"...
    expect(reader.read(text("?")).choices[0]?.delta.content).toBe("?");
    expect(reader.skipped).toBe(4); // ...read "?" without a parse
    // Another key, another chunk layout (the next answer's id): parsed, then learned.
    const thought = (t: string) =>
      `${head("chatcmpl-2", 1, "m")}"reasoning_content":${JSON.stringify(t)}${TAIL}`;
    expect(
      (reader.read(thought("hm")).choices[0]?.delta as { reasoning_content?: string } | undefined)
        ?.reasoning_content,
    ).toBe("hm");
    expect(reader.skipped).toBe(4);
    expect(reader.read(thought("m")).model).toBe("m");
    expect(reader.skipped).toBe(5);
  });

  it("learns nothing from a token written with escapes, whose text is shorter than what stands in the data", () => {
    const reader = new ChunkReader();
    const h = head("chatcmpl-1", 1, "m");
    reader.read(`${h}"content":"\\u0041"${TAIL}`); // "A", written as six characters
    // Had it learned "A" as one character, the text after it would be `u0041"…`, and this would read as "x".
    const data = `${h}"content":"xu0041"${TAIL}`;
    expect(reader.read(data).choices[0]?.delta.content).toBe("xu0041");
  });

  it("takes the shortcut only when the text after the token is the same too", () => {
    const reader = new ChunkReader();
    const layout = (t: string, model: string) =>
      `{"choices":[{"index":0,"delta":{"content":"${t}"},"finish_reason":null}],"model":"${model}"}`;
    expect(reader.read(layout("a", "aa")).model).toBe("aa");
    expect(reader.read(layout("b", "aa")).model).toBe("aa");
    expect(reader.skipped).toBe(1);
    expect(reader.read(layout("c", "bb")).model).toBe("bb");
    expect(reader.skipped).toBe(1);
  });
});
