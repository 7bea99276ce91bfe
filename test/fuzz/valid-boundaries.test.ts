/**
 * The other side of the fuzzing: VALID bodies right at the boundaries are accepted (200) and reach
 * the emulator unchanged, so the validators are not simply rejecting everything. Also generated
 * valid bodies (the same generators the invalid ones are mutated from) are answered 200.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PNG_1x1, type Stack, startStack } from "../helpers/stack.ts";
import { IMAGE_LIMIT, validChatBody, validImage } from "./arbitraries.ts";
import { post } from "./http.ts";

const REGULAR = "qwen/qwen3-4b-2507";
const VISION = "qwen3-vl-4b-instruct";
const SEED = Number(process.env.FUZZ_SEED ?? 4_242);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { LOG_LEVEL: "warn", MAX_IMAGE_BYTES: String(IMAGE_LIMIT) },
    emulator: { preload: [REGULAR, VISION] },
  });
});
afterAll(async () => {
  await stack?.close();
});

/** POSTs a valid chat body; checks the 200 answer (JSON, or NDJSON ending in `done`). */
async function chatOk(path: string, body: unknown) {
  const before = stack.emu.chats.length;
  const a = await post(`${stack.url}${path}`, JSON.stringify(body));
  if (a.status !== 200)
    throw new Error(`${path} ${JSON.stringify(body).slice(0, 300)} -> ${a.status} ${a.text}`);
  if (path.endsWith("/stream")) {
    expect(a.contentType).toMatch(/^application\/x-ndjson/);
    const lines = a.text
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines.at(-1)?.type).toBe("done");
  } else {
    expect(a.contentType).toMatch(/^application\/json/);
    expect(typeof a.json.content).toBe("string");
  }
  expect(stack.emu.chats.length).toBe(before + 1);
  // biome-ignore lint/suspicious/noExplicitAny: the request body the emulator received
  return stack.emu.chats.at(-1)?.body as any;
}

const user = [{ role: "user", content: "boundary" }];

describe("valid near-boundary bodies are accepted", () => {
  const boundaries: Array<[string, number, string]> = [
    ["temperature", 0, "temperature"],
    ["temperature", 2, "temperature"],
    ["topP", 0, "top_p"],
    ["topP", 1, "top_p"],
    ["presencePenalty", -2, "presence_penalty"],
    ["presencePenalty", 2, "presence_penalty"],
    ["frequencyPenalty", -2, "frequency_penalty"],
    ["frequencyPenalty", 2, "frequency_penalty"],
    ["maxTokens", 1, "max_tokens"],
    ["maxTokens", 1_000_000, "max_tokens"],
  ];
  for (const path of ["/chat", "/chat/stream", "/chat/regular", "/chat/regular/stream"]) {
    it(`${path}: every sampling setting at its bounds is 200 and reaches LM Studio as sent`, async () => {
      for (const [key, value, upstream] of boundaries) {
        const sent = await chatOk(path, { messages: user, config: { [key]: value } });
        expect(sent[upstream], `${key}=${value}`).toBe(value);
      }
      const all = {
        temperature: 2,
        topP: 0,
        presencePenalty: -2,
        frequencyPenalty: 2,
        maxTokens: 1_000_000,
      };
      const sent = await chatOk(path, { messages: user, config: all });
      expect([sent.temperature, sent.top_p, sent.presence_penalty, sent.frequency_penalty]).toEqual([
        2, 0, -2, 2,
      ]);
    });
  }

  it("vision: 32 images (the maximum), an image of exactly MAX_IMAGE_BYTES, data URLs and upper-case types", async () => {
    const images = fc.sample(validImage, { numRuns: 32, seed: SEED });
    for (const path of ["/chat/vision", "/chat/vision/stream", "/chat"]) {
      const sent = await chatOk(path, { messages: [{ role: "user", content: "what?", images }] });
      expect(sent.model).toBe(VISION);
      expect(sent.messages[0].content.filter((p: { type: string }) => p.type === "image_url")).toHaveLength(
        32,
      );
    }
    const exact = Buffer.alloc(IMAGE_LIMIT);
    Buffer.from(PNG_1x1, "base64").copy(exact);
    await chatOk("/chat/vision", {
      messages: [
        {
          role: "user",
          content: "big",
          images: [{ data_base64: exact.toString("base64"), mime_type: "image/png" }],
        },
      ],
    });
  });

  it("unicode content, escaped lone surrogates included, is accepted and forwarded", async () => {
    const content = "a\ud800b\udfffc 😀 \u0000 \u202e ｕｓｅｒ";
    const sent = await chatOk("/chat/regular", { messages: [{ role: "user", content }] });
    expect(sent.messages[0].content).toBe(content);
  });

  it("model_key of exactly 512 code points and identifier of 256 are valid (404: not downloaded, not 422)", async () => {
    const key = "😀".repeat(512); // 512 code points, 1,024 UTF-16 units
    for (const [path, body] of [
      ["/models/load", { model_key: key }],
      [
        "/models/load",
        { model_key: "nope/nope", identifier: "é".repeat(256), context_length: 10_000_000, ttl: 31_536_000 },
      ],
      ["/chat/regular", { model_key: key, messages: user }],
    ] as const) {
      const a = await post(`${stack.url}${path}`, JSON.stringify(body));
      expect(a.status, a.text).toBe(404);
    }
  });

  it("load and unload at their bounds: identifier of 256, ttl 1, unload_all false beside model_key", async () => {
    const id = "g".repeat(256);
    const a = await post(
      `${stack.url}/models/load`,
      JSON.stringify({ model_key: "google/gemma-3-1b", identifier: id, ttl: 1 }),
    );
    expect(a.status, a.text).toBe(200);
    expect(stack.emu.loads.at(-1)?.ttlMs).toBe(1_000);
    const u = await post(`${stack.url}/models/unload`, JSON.stringify({ model_key: id, unload_all: false }));
    expect(u.status, u.text).toBe(200);
    expect(u.json.unloaded).toEqual([id]);
  });

  it("ttl 31,536,000 s (the maximum) loads, and the model stays loaded", async () => {
    const a = await post(
      `${stack.url}/models/load`,
      JSON.stringify({ model_key: "google/gemma-3-1b", identifier: "year", ttl: 31_536_000 }),
    );
    expect(a.status, a.text).toBe(200);
    expect(stack.emu.loads.at(-1)?.ttlMs).toBe(31_536_000_000);
    await new Promise((r) => setTimeout(r, 100));
    const models = await fetch(`${stack.url}/models`).then(
      (r) => r.json() as Promise<{ models: Array<{ identifier: string }> }>,
    );
    expect(models.models.map((m) => m.identifier)).toContain("year");
  });
});

describe("generated valid bodies are accepted", () => {
  const KINDS = [
    ["/chat", "generic"],
    ["/chat/stream", "generic"],
    ["/chat/regular", "regular"],
    ["/chat/regular/stream", "regular"],
    ["/chat/vision", "vision"],
    ["/chat/vision/stream", "vision"],
  ] as const;
  for (const [index, [path, kind]] of KINDS.entries()) {
    it(`${path}: 25 valid bodies from the fuzzers' base generator are 200`, async () => {
      // the endpoint's default model (model_key is exercised above)
      const bodies = validChatBody(kind).map(({ model_key: _, ...b }) => b);
      await fc.assert(
        fc.asyncProperty(bodies, async (b) => {
          await chatOk(path, b);
        }),
        { numRuns: 25, seed: SEED + index },
      );
    });
  }
});
