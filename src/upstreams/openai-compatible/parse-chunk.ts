import type { ChatCompletionChunk } from "openai/resources/chat/completions";

/** A chunk as the chat engine reads it: OpenAI's, with the fields LM Studio adds. */
export type Chunk = ChatCompletionChunk & { error?: object };

/** The delta keys whose chunks are read without JSON.parse: a token of the answer or of a thought. */
const TEXT_KEYS = ["content", "reasoning_content", "reasoning"] as const;
type TextKey = (typeof TEXT_KEYS)[number];

/** A character that would make the text between two quotes something else than a plain JSON string. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold them raw; this finds them.
const NOT_PLAIN = /["\\\u0000-\u001f]/;

/**
 * Reads the `data` of one answer's chunks, most of them without JSON.parse.
 *
 * Why: an answer is one chunk per token, and every chunk of text is the one before with another
 * token in it (LM Studio repeats the id, the time and the model in each). Parsing each whole was
 * about 85 % of the chat engine's own CPU. So the reader remembers the last text chunk that it
 * parsed as the text before and after its token; a chunk with exactly that text before and after,
 * and a plain token between (no quote, backslash or control character), is that chunk with the new
 * token, which is what JSON.parse would make of it. Anything else (the first chunk, a token with
 * escapes, tool calls, the last chunk, usage, errors, another server's layout) is parsed.
 */
export class ChunkReader {
  #before = "";
  #after = "";
  #key: TextKey | undefined;
  #model = "";
  /** How many chunks were read without JSON.parse (for tests). */
  skipped = 0;

  read(data: string): Chunk {
    const key = this.#key;
    if (
      key !== undefined &&
      data.length > this.#before.length + this.#after.length &&
      data.startsWith(this.#before) &&
      data.endsWith(this.#after)
    ) {
      const token = data.slice(this.#before.length, data.length - this.#after.length);
      if (!NOT_PLAIN.test(token)) {
        this.skipped++;
        return textChunk(this.#model, key, token);
      }
    }
    const chunk = JSON.parse(data) as Chunk;
    this.#learn(data, chunk);
    return chunk;
  }

  /** Remembers a chunk that carries only one token of text, as the text around that token. */
  #learn(data: string, chunk: Chunk): void {
    this.#key = undefined;
    if (typeof chunk !== "object" || chunk === null || chunk.error !== undefined || chunk.usage) return;
    if (typeof chunk.model !== "string" || !Array.isArray(chunk.choices) || chunk.choices.length !== 1)
      return;
    const choice = chunk.choices[0];
    if (!choice || choice.finish_reason !== null || typeof choice.delta !== "object" || choice.delta === null)
      return;
    const keys = Object.keys(choice.delta);
    if (keys.length !== 1) return;
    const key = TEXT_KEYS.find((k) => k === keys[0]);
    if (key === undefined) return;
    const text = (choice.delta as Record<string, unknown>)[key];
    if (typeof text !== "string") return;
    // The token as it stands in the data: after the key's only occurrence, the same characters
    // (so not a token written with escapes).
    const opening = `"${key}":"`;
    const at = data.indexOf(opening);
    if (at < 0 || data.indexOf(opening, at + 1) >= 0) return;
    const start = at + opening.length;
    if (data.slice(start, start + text.length + 1) !== `${text}"`) return;
    this.#before = data.slice(0, start);
    this.#after = data.slice(start + text.length);
    this.#model = chunk.model;
    this.#key = key;
  }
}

function textChunk(model: string, key: TextKey, text: string): Chunk {
  return {
    id: "",
    object: "chat.completion.chunk",
    created: 0,
    model,
    choices: [{ index: 0, delta: { [key]: text }, finish_reason: null }],
  } as Chunk;
}
