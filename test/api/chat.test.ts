import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { splitTokens } from "../emulator/text.ts";
import { PNG_1x1, postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";
import { expectNoLeak, expectNoWarnings, expectValidation, type Json } from "./helpers.ts";

const REGULAR = "qwen/qwen3-4b-2507";
const VISION = "qwen3-vl-4b-instruct";
const OTHER = "google/gemma-3-1b";
const ENDPOINTS = [
  "/chat",
  "/chat/stream",
  "/chat/regular",
  "/chat/regular/stream",
  "/chat/vision",
  "/chat/vision/stream",
] as const;
const isStream = (path: string) => path.endsWith("/stream");

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
beforeEach(() => {
  stack.emu.reset({ preload: [REGULAR, VISION, OTHER] });
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});

const text = (content = "What is 2+2?") => [{ role: "user", content }];
const withImage = [
  { role: "user", content: "What is this?", images: [{ data_base64: PNG_1x1, mime_type: "image/png" }] },
];

/** Calls any of the six endpoints; returns the status and the final result object (done line for streams). */
async function chat(path: string, body: Json) {
  if (isStream(path)) {
    const r = await postNdjson(`${stack.url}${path}`, body);
    const done = r.lines.at(-1);
    const content = r.lines
      .filter((l: Json) => l.type === "fragment")
      .map((l: Json) => l.content)
      .join("");
    return { status: r.status, result: r.status === 200 ? { ...done, content } : done, text: r.text };
  }
  const r = await postJson(`${stack.url}${path}`, body);
  return { status: r.status, result: r.json, text: r.text };
}

const lastUpstream = (): Json => stack.emu.chats.at(-1)?.body;

describe("default model choice", () => {
  it.each([
    ["/chat", text(), REGULAR],
    ["/chat/stream", text(), REGULAR],
    ["/chat", withImage, VISION],
    ["/chat/stream", withImage, VISION],
    ["/chat/regular", text(), REGULAR],
    ["/chat/regular/stream", text(), REGULAR],
    ["/chat/vision", text(), VISION],
    ["/chat/vision/stream", text(), VISION],
    ["/chat/vision", withImage, VISION],
    ["/chat/vision/stream", withImage, VISION],
  ])("%s with %j asks LM Studio for the right default", async (path, messages, model) => {
    const r = await chat(path, { messages });
    expect(r.status).toBe(200);
    expect(stack.emu.chats).toHaveLength(1);
    expect(lastUpstream().model).toBe(model);
    expect(r.result.model).toBe(model);
    expect(stack.emu.chats[0]?.outcome).toBe("finished");
  });

  it("a later message with images also makes /chat pick the vision model", async () => {
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: "hello" },
      { role: "assistant", content: "hi" },
      ...withImage,
    ];
    const r = await chat("/chat", { messages });
    expect(r.status).toBe(200);
    expect(lastUpstream().model).toBe(VISION);
  });

  it("follows DEFAULT_REGULAR_MODEL and DEFAULT_VISION_MODEL from the configuration", async () => {
    const other = await startStack({
      emu: stack.emu,
      env: { DEFAULT_REGULAR_MODEL: OTHER, DEFAULT_VISION_MODEL: "vlm-two" },
    });
    try {
      stack.emu.preload(VISION, { identifier: "vlm-two" });
      expect((await postJson(`${other.url}/chat`, { messages: text() })).status).toBe(200);
      expect(lastUpstream().model).toBe(OTHER);
      expect((await postJson(`${other.url}/chat/regular`, { messages: text() })).status).toBe(200);
      expect(lastUpstream().model).toBe(OTHER);
      expect((await postJson(`${other.url}/chat`, { messages: withImage })).status).toBe(200);
      expect(lastUpstream().model).toBe("vlm-two");
      expect((await postJson(`${other.url}/chat/vision`, { messages: withImage })).status).toBe(200);
      expect(lastUpstream().model).toBe("vlm-two");
    } finally {
      await other.close();
    }
  });
});

describe("model_key", () => {
  it.each(ENDPOINTS)("%s sends model_key upstream instead of the default", async (path) => {
    const messages = path.includes("vision") ? withImage : text();
    stack.emu.preload(VISION, { identifier: "vision-two" });
    // A loaded identifier for the vision routes, a model key for the others.
    const key = path.includes("vision") ? "vision-two" : OTHER;
    const r = await chat(path, { model_key: key, messages });
    expect(r.status).toBe(200);
    expect(lastUpstream().model).toBe(key);
    expect(r.result.model).toBe(key);
  });
});

describe("config mapping", () => {
  it.each(ENDPOINTS)("%s maps every config field to OpenAI's names", async (path) => {
    const r = await chat(path, {
      messages: text(),
      config: { temperature: 0.7, maxTokens: 100, topP: 0.9, presencePenalty: 0.5, frequencyPenalty: -0.5 },
    });
    expect(r.status).toBe(200);
    const body = lastUpstream();
    expect(body).toMatchObject({
      temperature: 0.7,
      max_tokens: 100,
      top_p: 0.9,
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
    });
    for (const camel of ["maxTokens", "topP", "presencePenalty", "frequencyPenalty"]) {
      expect(body).not.toHaveProperty(camel);
    }
  });

  it("sends no sampling fields when no config is given", async () => {
    expect((await chat("/chat", { messages: text() })).status).toBe(200);
    const body = lastUpstream();
    for (const f of ["temperature", "max_tokens", "top_p", "presence_penalty", "frequency_penalty"]) {
      expect(body).not.toHaveProperty(f);
    }
  });

  it("accepts the bounds of every range", async () => {
    for (const config of [
      { temperature: 0, topP: 0, presencePenalty: -2, frequencyPenalty: -2, maxTokens: 1 },
      { temperature: 2, topP: 1, presencePenalty: 2, frequencyPenalty: 2 },
    ]) {
      const r = await chat("/chat/regular", { messages: text(), config });
      expect(r.status).toBe(200);
    }
    expect(stack.emu.chats).toHaveLength(2);
  });

  it("forwards the messages, roles and order unchanged", async () => {
    const messages = [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "What is 2+2?" },
      { role: "assistant", content: "4" },
      { role: "user", content: "And 3+3?" },
    ];
    expect((await chat("/chat/regular", { messages })).status).toBe(200);
    expect(lastUpstream().messages).toEqual(messages);
  });
});

describe("validation (422, FastAPI shape)", () => {
  const cases: Array<[string, Json, Array<string | number>]> = [
    ["temperature above 2", { temperature: 2.1 }, ["body", "config", "temperature"]],
    ["temperature below 0", { temperature: -0.1 }, ["body", "config", "temperature"]],
    ["temperature not a number", { temperature: "hot" }, ["body", "config", "temperature"]],
    ["maxTokens 0", { maxTokens: 0 }, ["body", "config", "maxTokens"]],
    ["maxTokens negative", { maxTokens: -5 }, ["body", "config", "maxTokens"]],
    ["maxTokens fractional", { maxTokens: 1.5 }, ["body", "config", "maxTokens"]],
    ["topP above 1", { topP: 1.01 }, ["body", "config", "topP"]],
    ["topP below 0", { topP: -0.01 }, ["body", "config", "topP"]],
    ["presencePenalty above 2", { presencePenalty: 2.5 }, ["body", "config", "presencePenalty"]],
    ["presencePenalty below -2", { presencePenalty: -2.5 }, ["body", "config", "presencePenalty"]],
    ["frequencyPenalty above 2", { frequencyPenalty: 2.01 }, ["body", "config", "frequencyPenalty"]],
    ["frequencyPenalty below -2", { frequencyPenalty: -3 }, ["body", "config", "frequencyPenalty"]],
  ];
  it.each(cases)("config %s", async (_name, config, loc) => {
    for (const path of ["/chat", "/chat/stream"]) {
      const r = await postJson(`${stack.url}${path}`, { messages: text(), config });
      expectValidation(r.status, r.json, loc);
      expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    }
    expect(stack.emu.chats).toHaveLength(0);
  });

  it.each([
    ["no messages", {}, ["body", "messages"]],
    ["empty messages", { messages: [] }, ["body", "messages"]],
    ["a bad role", { messages: [{ role: "robot", content: "hi" }] }, ["body", "messages", 0, "role"]],
    ["content missing", { messages: [{ role: "user" }] }, ["body", "messages", 0, "content"]],
    [
      "content not a string",
      { messages: [{ role: "user", content: 5 }] },
      ["body", "messages", 0, "content"],
    ],
    [
      "model_key empty",
      { model_key: "", messages: [{ role: "user", content: "hi" }] },
      ["body", "model_key"],
    ],
    [
      "second message bad",
      {
        messages: [
          { role: "user", content: "hi" },
          { role: "user", content: null },
        ],
      },
      ["body", "messages", 1, "content"],
    ],
  ])("%s", async (_name, body, loc) => {
    for (const path of ENDPOINTS) {
      const r = await postJson(`${stack.url}${path}`, body);
      expectValidation(r.status, r.json, loc);
    }
    expect(stack.emu.chats).toHaveLength(0);
  });

  it.each(["/chat/regular", "/chat/regular/stream"])(
    "%s rejects images with 422 pointing to /chat/vision",
    async (path) => {
      const messages = [{ role: "user", content: "hello" }, ...withImage];
      const r = await postJson(`${stack.url}${path}`, { messages });
      const items = expectValidation(r.status, r.json, ["body", "messages", 1, "images"]);
      expect(items.map((d: Json) => d.msg).join(" ")).toContain("/chat/vision");
      expect(stack.emu.chats).toHaveLength(0);
    },
  );
});

describe("response", () => {
  it.each(["/chat", "/chat/regular", "/chat/vision"])(
    "%s answers model, content, stop_reason, predicted_tokens",
    async (path) => {
      stack.emu.configure({ reply: "Two plus two is four, of course." });
      const r = await postJson(`${stack.url}${path}`, { messages: text() });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^application\/json/);
      expect(r.json).toMatchObject({
        model: path.includes("vision") ? VISION : REGULAR,
        content: "Two plus two is four, of course.",
        stop_reason: "stop",
        predicted_tokens: splitTokens("Two plus two is four, of course.").length,
      });
      expect(typeof r.json.predicted_tokens).toBe("number");
    },
  );

  it("predicted_tokens is the upstream's completion_tokens, not a count of fragments", async () => {
    stack.emu.configure({ reply: "one two three four five six seven eight", tokensPerChunk: 3 });
    const r = await postJson(`${stack.url}/chat`, { messages: text() });
    expect(r.status).toBe(200);
    expect(r.json.predicted_tokens).toBe(splitTokens("one two three four five six seven eight").length);
    const s = await postNdjson(`${stack.url}/chat/stream`, { messages: text() });
    expect(s.lines.filter((l: Json) => l.type === "fragment").length).toBeLessThan(
      s.lines.at(-1).predicted_tokens,
    );
    expect(s.lines.at(-1).predicted_tokens).toBe(r.json.predicted_tokens);
  });

  it.each(ENDPOINTS)('%s reports stop_reason "length" when maxTokens cuts the answer', async (path) => {
    stack.emu.configure({ reply: "alpha beta gamma delta epsilon zeta eta theta" });
    const r = await chat(path, { messages: text(), config: { maxTokens: 3 } });
    expect(r.status).toBe(200);
    expect(r.result.stop_reason).toBe("length");
    expect(r.result.predicted_tokens).toBe(3);
    expect(r.result.content).toBe(
      splitTokens("alpha beta gamma delta epsilon zeta eta theta").slice(0, 3).join(""),
    );
  });

  it("keeps unicode and newlines in content intact", async () => {
    const reply = 'Ligne 1\nLigne 2 — «ok» 日本語 🙂 "quoted" \\ back';
    stack.emu.configure({ reply });
    const r = await postJson(`${stack.url}/chat`, { messages: text() });
    expect(r.json.content).toBe(reply);
    const s = await postNdjson(`${stack.url}/chat/stream`, { messages: text() });
    expect(
      s.lines
        .filter((l: Json) => l.type === "fragment")
        .map((l: Json) => l.content)
        .join(""),
    ).toBe(reply);
  });

  it("a non-vision model given an image through /chat gets a clear 4xx", async () => {
    const r = await postJson(`${stack.url}/chat`, { model_key: REGULAR, messages: withImage });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.json.detail).toMatch(/does not support images/);
    expect(r.json.detail).toContain(REGULAR);
    expect(stack.emu.chats.at(-1)?.outcome).toBe("failed");
    expectNoLeak(r.text);
    const s = await postJson(`${stack.url}/chat/stream`, { model_key: REGULAR, messages: withImage });
    expect(s.status).toBe(r.status);
    expect(s.json.detail).toBe(r.json.detail);
    expectNoLeak(s.text);
  });
});
