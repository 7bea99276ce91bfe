import { describe, expect, it } from "vitest";
import { conversationToMarkdown, formatBytes, formatMs, usageParts } from "./format.js";
import { createLineSplitter, readNdjson } from "./ndjson.js";
import { describeFailure, serviceMessage } from "./plain-errors.js";
import { splitThink } from "./think.js";

describe("createLineSplitter", () => {
  it("joins lines split across chunks and skips empty ones", () => {
    const s = createLineSplitter();
    expect(s.push('{"a":')).toEqual([]);
    expect(s.push('1}\n\n{"b":2}\n{"c"')).toEqual(['{"a":1}', '{"b":2}']);
    expect(s.push(":3}")).toEqual([]);
    expect(s.end()).toEqual(['{"c":3}']);
    expect(s.end()).toEqual([]);
  });
});

describe("readNdjson", () => {
  it("parses every line of a byte stream, split anywhere, even inside a multi-byte character", async () => {
    const bytes = new TextEncoder().encode('{"type":"fragment","content":"é"}\nnot json\n{"type":"done"}');
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 5) c.enqueue(bytes.slice(i, i + 5));
        c.close();
      },
    });
    const lines: unknown[] = [];
    await readNdjson(body, (l: unknown) => lines.push(l));
    expect(lines).toEqual([{ type: "fragment", content: "é" }, { type: "done" }]);
  });
});

describe("describeFailure", () => {
  it("says LM Studio is unreachable, from the code or the 503 text", () => {
    const byCode = describeFailure({ status: 503, body: { detail: "x", code: "upstream_unreachable" } });
    expect(byCode.title).toMatch(/LM Studio is not reachable/);
    const byText = describeFailure({
      status: 503,
      body: {
        loaded: false,
        error: "Failed to load model: Could not connect to LM Studio: Connection refused",
      },
    });
    expect(byText.title).toMatch(/LM Studio is not reachable/);
    expect(byText.detail).toBe("Could not connect to LM Studio: Connection refused");
  });

  it("names a model that is not downloaded, with the suggestions", () => {
    const f = describeFailure({
      status: 404,
      model: "qwen3",
      body: {
        loaded: false,
        error: "Failed to load model: not found",
        code: "model_not_found",
        suggestions: ["qwen/qwen3-4b-2507"],
      },
    });
    expect(f.title).toBe("“qwen3” is not downloaded in LM Studio.");
    expect(f.suggestions).toEqual(["qwen/qwen3-4b-2507"]);
  });

  it("explains a refused exclusive load, a busy queue, a missing key and an unreachable service", () => {
    expect(describeFailure({ status: 409, body: { code: "model_busy" } }).title).toMatch(
      /Exclusive load refused/,
    );
    expect(describeFailure({ status: 429, body: { code: "queue_full" } }).title).toMatch(/busy/);
    expect(describeFailure({ status: 401, body: {} }).title).toMatch(/API key/);
    expect(describeFailure({ status: 0 }).title).toMatch(/service cannot be reached/);
  });

  it("reads stream error lines and FastAPI validation lists", () => {
    const f = describeFailure({
      status: 200,
      body: { type: "error", error: { code: "upstream_timeout", message: "late" } },
    });
    expect(f.title).toMatch(/did not answer in time/);
    expect(f.detail).toBe("late");
    expect(
      serviceMessage({ detail: [{ loc: ["body", "config", "temperature"], msg: "too big", type: "x" }] }),
    ).toBe("config.temperature: too big");
    expect(describeFailure({ status: 500, body: "nonsense" }).title).toBe("Something went wrong.");
  });
});

describe("formatting", () => {
  it("formats sizes and durations", () => {
    expect(formatBytes(2_497_281_000)).toBe("2.5 GB");
    expect(formatBytes(850_000_000)).toBe("850 MB");
    expect(formatBytes(0)).toBe("–");
    expect(formatMs(0.4)).toBe("<1 ms");
    expect(formatMs(31.5)).toBe("32 ms");
    expect(formatMs(1520)).toBe("1.52 s");
  });

  it("turns a done line into usage phrases", () => {
    expect(
      usageParts({
        model: "m",
        predicted_tokens: 8,
        prompt_tokens: 9,
        time_to_first_token_ms: 31.5,
        tokens_per_second: 2072.5,
        stop_reason: "length",
      }),
    ).toEqual(["m", "8 tokens (prompt 9)", "first token 32 ms", "2072.5 tok/s", "stopped: length"]);
  });

  it("copies the conversation as Markdown", () => {
    expect(
      conversationToMarkdown({
        system: "Be brief.",
        turns: [
          { role: "user", content: "Hi", images: 1 },
          { role: "assistant", content: "Hello", model: "m" },
        ],
      }),
    ).toBe("**System:** Be brief.\n\n---\n\n**You:** _(1 image)_\n\nHi\n\n---\n\n**m:**\n\nHello\n");
  });
});

describe("splitThink", () => {
  it("separates closed, open and absent reasoning", () => {
    expect(splitThink("<think>hmm</think>\n\nAnswer")).toEqual({
      reasoning: "hmm",
      content: "Answer",
      thinking: false,
    });
    expect(splitThink("<think>still going")).toEqual({
      reasoning: "still going",
      content: "",
      thinking: true,
    });
    expect(splitThink("Plain <think>x</think>")).toEqual({
      reasoning: "",
      content: "Plain <think>x</think>",
      thinking: false,
    });
  });
});
