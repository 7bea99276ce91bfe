/**
 * Never crash on input, the Ollama-compatible API: 1,000 generated invalid bodies for each POST
 * endpoint under /api (mutations of valid bodies invalid for one known reason, random JSON and
 * malformed JSON), each answered 4xx with Ollama's `{"error": "..."}` and nothing reaching LM Studio.
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";
import {
  above,
  anyValue,
  below,
  type Case,
  extraKey,
  malformedJson,
  notArray,
  notBoolean,
  notNumber,
  notObject,
  notString,
  text,
  toJson,
  tooLong,
} from "./arbitraries.ts";
import { type Answer, check, post, upstreamCounts } from "./http.ts";

const RUNS = 1_000;
const SEED = Number(process.env.FUZZ_SEED ?? 4_242);
const IMAGE_LIMIT = 4096;

// biome-ignore lint/suspicious/noExplicitAny: generated JSON of any shape
type Obj = Record<string, any>;

const MODELS = ["qwen/qwen3-4b-2507", "qwen3-vl-4b-instruct", "llama3.2:latest"];
const model = fc.constantFrom(...MODELS);
const message = fc.record({ role: fc.constantFrom("system", "user", "assistant"), content: text(40) });
const options = fc.record(
  {
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    top_k: fc.nat(100),
    stop: fc.array(text(5), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const common = { model, stream: fc.boolean(), options, keep_alive: fc.constantFrom("5m", 300, "1h", -1) };

const validChat = fc.record(
  { ...common, messages: fc.array(message, { minLength: 1, maxLength: 3 }) },
  {
    requiredKeys: ["model", "messages"],
  },
);
const validGenerate = fc.record(
  { ...common, prompt: text(40, 1), system: text(20) },
  {
    requiredKeys: ["model", "prompt"],
  },
);
const validShow = fc.record({ model });
const validEmbed = fc.record({
  model,
  input: fc.oneof(text(20), fc.array(text(20), { minLength: 1, maxLength: 3 })),
});
const validEmbeddings = fc.record({ model, prompt: text(20) });
const validPull = fc.record({ model, stream: fc.boolean() }, { requiredKeys: ["model"] });

const CHAT_KEYS = [
  "model",
  "messages",
  "tools",
  "format",
  "options",
  "stream",
  "keep_alive",
  "think",
  "logprobs",
  "top_logprobs",
];
const GENERATE_KEYS = [
  ...CHAT_KEYS.filter((k) => k !== "messages" && k !== "tools"),
  "prompt",
  "suffix",
  "system",
  "template",
  "context",
  "raw",
  "images",
  "width",
  "height",
  "steps",
];

/** One reason to be invalid: `set` changes the valid body. */
type Mutation = { label: string; set: (b: Obj) => void; status?: number[] };
const m = (label: string, arb: fc.Arbitrary<unknown>, key: string, status?: number[]) =>
  arb.map(
    (v): Mutation => ({
      label,
      set: (b) => {
        b[key] = v;
      },
      ...(status && { status }),
    }),
  );
const opt = (label: string, arb: fc.Arbitrary<unknown>, key: string) =>
  arb.map(
    (v): Mutation => ({
      label: `options.${label}`,
      set: (b) => {
        b.options = { ...(b.options ?? {}), [key]: v };
      },
    }),
  );
const badImage = fc.oneof(
  fc.constant(""),
  fc.constant("abc"),
  text(30).map((s) => Buffer.from(`x${s}`).toString("base64")),
  notString,
  fc.constant(Buffer.alloc(IMAGE_LIMIT + 10, 0x89).toString("base64")),
);

const modelMutations = [
  m("model:not-string", notString, "model"),
  m("model:empty", fc.constant(""), "model"),
  m("model:too-long", tooLong(512), "model"),
];
const generationMutations = [
  ...modelMutations,
  m("stream:not-boolean", notBoolean, "stream"),
  m("options:not-object", notObject, "options"),
  opt("temperature:above", above(2), "temperature"),
  opt("temperature:below", below(0), "temperature"),
  opt("temperature:not-number", notNumber, "temperature"),
  opt("top_p:above", above(1), "top_p"),
  opt("top_k:not-int", fc.constantFrom(1.5, -1, "3"), "top_k"),
  opt("num_predict:below", fc.integer({ min: -1_000, max: -3 }), "num_predict"),
  opt("stop:not-array", notArray, "stop"),
  opt("unknown", fc.constant(1), "temprature"),
  m(
    "format:bad",
    fc.oneof(fc.constantFrom("yaml", "JSON", "xml"), fc.integer(), fc.boolean(), fc.array(fc.nat())),
    "format",
  ),
  m(
    "keep_alive:bad",
    fc.oneof(fc.constantFrom("5 minutes", "forever", "5x", "m5", ""), fc.boolean(), fc.constant(null)),
    "keep_alive",
  ),
  m("think:bad", fc.oneof(fc.constantFrom("yes", "HIGH", "max"), fc.integer(), fc.constant(null)), "think"),
  m("logprobs:true", fc.constant(true), "logprobs"),
];

const chatMutations = fc.oneof(
  ...generationMutations,
  m("messages:not-array", notArray, "messages"),
  fc.tuple(fc.constantFrom("admin", "bot", "", "User", 1, null), fc.nat(2)).map(
    ([role]): Mutation => ({
      label: "messages:role",
      set: (b) => {
        b.messages[0].role = role;
      },
    }),
  ),
  notString
    .filter((v) => v !== null && v !== undefined)
    .map(
      (content): Mutation => ({
        label: "messages:content",
        set: (b) => {
          b.messages[0].content = content;
        },
      }),
    ),
  badImage.map(
    (img): Mutation => ({
      label: "messages:image",
      set: (b) => {
        b.messages[0] = { role: "user", content: "x", images: [img] };
      },
      status: [400, 413],
    }),
  ),
  m(
    "tools:bad",
    fc.oneof(notArray, fc.constant([{ type: "function", function: {} }]), fc.constant([{ type: "x" }])),
    "tools",
  ),
  fc
    .tuple(
      extraKey(CHAT_KEYS, ["mesages", "prompt", "message", "Model", "temprature", "keepalive"]),
      anyValue,
    )
    .map(
      ([k, v]): Mutation => ({
        label: "extra-key",
        set: (b) => {
          b[k] = v;
        },
      }),
    ),
);
const generateMutations = fc.oneof(
  ...generationMutations,
  m(
    "prompt:not-string",
    notString.filter((v) => v !== null),
    "prompt",
  ),
  m("raw:true", fc.constant(true), "raw"),
  m("template", text(10, 1), "template"),
  m("suffix", text(10, 1), "suffix"),
  m("width", fc.nat(), "width"),
  badImage.map(
    (img): Mutation => ({
      label: "images:bad",
      set: (b) => {
        b.images = [img];
      },
      status: [400, 413],
    }),
  ),
  fc.tuple(extraKey(GENERATE_KEYS, ["messages", "promt", "Prompt", "sytem"]), anyValue).map(
    ([k, v]): Mutation => ({
      label: "extra-key",
      set: (b) => {
        b[k] = v;
      },
    }),
  ),
);
const showMutations = fc.oneof(
  ...modelMutations,
  fc.constant<Mutation>({
    label: "model:missing",
    set: (b) => {
      delete b.model;
    },
  }),
  fc
    .tuple(
      extraKey(["model", "name", "verbose", "system", "template", "options"], ["modle", "Model"]),
      anyValue,
    )
    .map(
      ([k, v]): Mutation => ({
        label: "extra-key",
        set: (b) => {
          b[k] = v;
        },
      }),
    ),
);
const embedMutations = fc.oneof(
  ...modelMutations,
  m(
    "input:bad",
    fc.oneof(
      fc.constant([]),
      fc.array(fc.integer(), { minLength: 1 }),
      fc.constant(null),
      fc.integer(),
      fc.dictionary(text(3), text(3)),
    ),
    "input",
  ),
  m("dimensions", fc.integer({ min: 1, max: 4096 }), "dimensions"),
  m("keep_alive:bad", fc.constantFrom("soon", true), "keep_alive"),
  fc
    .tuple(
      extraKey(["model", "input", "truncate", "keep_alive", "dimensions", "options"], ["inputs", "prompt"]),
      anyValue,
    )
    .map(
      ([k, v]): Mutation => ({
        label: "extra-key",
        set: (b) => {
          b[k] = v;
        },
      }),
    ),
);
const embeddingsMutations = fc.oneof(
  ...modelMutations,
  m("prompt:not-string", notString, "prompt"),
  fc.constant<Mutation>({
    label: "prompt:missing",
    set: (b) => {
      delete b.prompt;
    },
  }),
  fc.tuple(extraKey(["model", "prompt", "keep_alive", "options"], ["input"]), anyValue).map(
    ([k, v]): Mutation => ({
      label: "extra-key",
      set: (b) => {
        b[k] = v;
      },
    }),
  ),
);
const pullMutations = fc.oneof(
  ...modelMutations,
  m("stream:not-boolean", notBoolean, "stream"),
  fc.constant<Mutation>({
    label: "model:missing",
    set: (b) => {
      delete b.model;
    },
  }),
  fc
    .tuple(extraKey(["model", "name", "insecure", "stream", "username", "password"], ["modle"]), anyValue)
    .map(
      ([k, v]): Mutation => ({
        label: "extra-key",
        set: (b) => {
          b[k] = v;
        },
      }),
    ),
);

/** Random JSON that names no model is never a valid body of these endpoints. */
const randomCase: fc.Arbitrary<Case> = fc
  .jsonValue()
  .filter((v) => typeof v !== "object" || v === null || Array.isArray(v) || !("model" in v || "name" in v))
  .map((v) => ({ label: "random:jsonValue", text: toJson(v) ?? "null", status: [400] }));

const cases = (valid: fc.Arbitrary<Obj>, mutations: fc.Arbitrary<Mutation>): fc.Arbitrary<Case> =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.tuple(valid, mutations).map(([b, mu]) => {
        const body = structuredClone(b);
        mu.set(body);
        return { label: mu.label, text: toJson(body), status: mu.status ?? [400] };
      }),
    },
    { weight: 1, arbitrary: randomCase },
    {
      weight: 1,
      arbitrary: malformedJson(valid).map(({ label, body }) => ({
        label: `malformed:${label}`,
        text: String(body),
        status: [400],
      })),
    },
  );

const ENDPOINTS = [
  { path: "/api/chat", cases: cases(validChat, chatMutations), minKinds: 20 },
  { path: "/api/generate", cases: cases(validGenerate, generateMutations), minKinds: 20 },
  { path: "/api/show", cases: cases(validShow, showMutations), minKinds: 6 },
  { path: "/api/embed", cases: cases(validEmbed, embedMutations), minKinds: 8 },
  { path: "/api/embeddings", cases: cases(validEmbeddings, embeddingsMutations), minKinds: 7 },
  { path: "/api/pull", cases: cases(validPull, pullMutations), minKinds: 7 },
];

/** An Ollama error answer: 4xx, JSON, `{"error": "<something to act on>"}`. */
function checkOllamaError(c: Case, a: Answer): void {
  check(a.status < 500, "5xx", c, a);
  check(c.status.includes(a.status), `status not in ${c.status.join("/")}`, c, a);
  check(a.contentType.startsWith("application/json"), "not JSON", c, a);
  check(typeof a.json?.error === "string" && a.json.error.length > 5, "no error message", c, a);
  check(!/FST_|Internal|\bat \w+ \(/.test(a.json.error), "internal text in the message", c, a);
}

let stack: Stack;
let before: ReturnType<typeof upstreamCounts>;

beforeAll(async () => {
  stack = await startStack({
    env: {
      LOG_LEVEL: "warn",
      MAX_IMAGE_BYTES: String(IMAGE_LIMIT),
      MAX_BODY_BYTES: String(16 * 1024 * 1024),
      MODEL_ALIASES: "llama3.2=qwen/qwen3-4b-2507",
    },
    emulator: { preload: ["qwen/qwen3-4b-2507", "qwen3-vl-4b-instruct"] },
  });
  before = upstreamCounts(stack.emu);
});
afterAll(async () => {
  await stack?.close();
});

for (const [index, { path, cases: arb, minKinds }] of ENDPOINTS.entries()) {
  it(`POST ${path}: ${RUNS} invalid bodies answered 4xx with an error, nothing upstream`, async () => {
    const labels = new Set<string>();
    await fc.assert(
      fc.asyncProperty(arb, async (c) => {
        const a = await post(`${stack.url}${path}`, c.text);
        checkOllamaError(c, a);
        const now = upstreamCounts(stack.emu);
        if (JSON.stringify(now) !== JSON.stringify(before)) {
          throw new Error(`[${c.label}] reached the emulator: ${JSON.stringify({ before, now })}`);
        }
        labels.add(c.label);
      }),
      { numRuns: RUNS, seed: SEED + 100 + index },
    );
    expect(labels.size).toBeGreaterThanOrEqual(minKinds);
    const health = await fetch(`${stack.url}/health`);
    expect(health.status).toBe(200);
  }, 60_000);
}

it("a pull of a model LM Studio's catalogue lacks is one clear 404, not a crash", async () => {
  const a = await post(`${stack.url}/api/pull`, JSON.stringify({ model: "nobody/no-such-model" }));
  expect(a.status).toBe(404);
  expect(a.json.error).toMatch(/not in LM Studio's model catalogue/);
});

it("the service logged no error while being fuzzed", () => {
  const errors = stack.logs.filter((l) => {
    try {
      return (JSON.parse(l) as { level: number }).level >= 50;
    } catch {
      return true;
    }
  });
  expect(errors).toEqual([]);
});
