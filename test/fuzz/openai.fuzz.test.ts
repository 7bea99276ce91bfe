/**
 * Never crash on input, /v1 POST endpoints: 1,000 generated invalid bodies each. A pass-through
 * accepts unknown fields and forwards what it does not read, so "invalid" here is what the gateway
 * itself refuses: not JSON (or not UTF-8), not an object, `model` not a non-empty string, `stream`
 * not a boolean, the endpoint's one required field missing or of the wrong type. Each is answered
 * 4xx in OpenAI's error shape (Anthropic's on /v1/messages), never 5xx, and nothing reaches the
 * emulator.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";
import {
  anyValue,
  malformedJson,
  notArray,
  notBoolean,
  notObject,
  notString,
  text,
  toJson,
} from "./arbitraries.ts";
import { type Answer, post, upstreamCounts } from "./http.ts";
import { RUNS, SEED } from "./suite.ts";

// biome-ignore lint/suspicious/noExplicitAny: generated JSON of any shape
type Obj = Record<string, any>;

interface Case {
  label: string;
  body: string | Buffer;
  status: readonly number[];
  /** The fields the error may name (OpenAI's `param`), when known. */
  params?: string[];
}

interface Endpoint {
  path: string;
  /** The field without which no upstream could answer, and what it must be. */
  required: { key: string; kind: "array" | "text" };
  modelRequired: boolean;
  valid: fc.Arbitrary<Obj>;
}

const message = fc.record({ role: fc.constantFrom("user", "system", "assistant"), content: text(40) });
/** Unknown and known OpenAI fields alike: the gateway forwards them, so they never make a body invalid. */
const extras = fc.dictionary(
  fc.oneof(fc.constantFrom("temperature", "tools", "seed", "n", "stop", "x_custom", "logprobs"), text(10)),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 3 },
);
const model = fc.constantFrom("qwen/qwen3-4b-2507", "google/gemma-3-1b", "some/unknown-model");

const bodyWith = (required: Obj, modelRequired: boolean) =>
  fc
    .tuple(
      extras,
      modelRequired ? model : fc.option(model, { nil: undefined }),
      fc.option(fc.boolean(), { nil: undefined }),
    )
    .map(([extra, m, stream]) => {
      const body: Obj = { ...extra };
      for (const k of ["model", "stream", ...Object.keys(required)]) delete body[k];
      return {
        ...body,
        ...(m !== undefined && { model: m }),
        ...(stream !== undefined && { stream }),
        ...required,
      };
    });

const textValue = fc.oneof(text(40), fc.array(text(10), { minLength: 1, maxLength: 3 }));

const ENDPOINTS: Endpoint[] = [
  {
    path: "/v1/chat/completions",
    required: { key: "messages", kind: "array" },
    modelRequired: false,
    valid: fc
      .array(message, { minLength: 1, maxLength: 3 })
      .chain((messages) => bodyWith({ messages }, false)),
  },
  {
    path: "/v1/completions",
    required: { key: "prompt", kind: "text" },
    modelRequired: false,
    valid: textValue.chain((prompt) => bodyWith({ prompt }, false)),
  },
  {
    path: "/v1/embeddings",
    required: { key: "input", kind: "text" },
    modelRequired: true,
    valid: textValue.chain((input) => bodyWith({ input }, true)),
  },
  {
    path: "/v1/responses",
    required: { key: "input", kind: "text" },
    modelRequired: false,
    valid: textValue.chain((input) => bodyWith({ input }, false)),
  },
  {
    path: "/v1/messages",
    required: { key: "messages", kind: "array" },
    modelRequired: false,
    valid: fc
      .array(message, { minLength: 1, maxLength: 3 })
      .chain((messages) => bodyWith({ messages, max_tokens: 50 }, false)),
  },
];

const notText = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.dictionary(text(8), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
);

function invalidCase(e: Endpoint): fc.Arbitrary<Case> {
  const json = (label: string, body: unknown, ...params: string[]): Case => ({
    label,
    body: toJson(body),
    status: [400],
    ...(params.length > 0 && { params }),
  });
  const { key, kind } = e.required;
  return e.valid.chain((b) =>
    fc.oneof(
      notString.map((m) => json("model:not-string", { ...b, model: m }, "model")),
      fc.constant(json("model:empty", { ...b, model: "" }, "model")),
      notBoolean.map((s) => json("stream:not-boolean", { ...b, stream: s }, "stream")),
      fc.constant(0).map(() => {
        const { [key]: _, ...rest } = b;
        return json(`${key}:missing`, rest, key);
      }),
      (kind === "array" ? notArray : notText).map((v) => json(`${key}:wrong-type`, { ...b, [key]: v }, key)),
      notObject.map((v) => json("body:not-object", v)),
      fc.constant(0).map(() => {
        if (!e.modelRequired) return json("body:empty-array", []);
        const { model: _, ...rest } = b;
        return json("model:missing", rest, "model");
      }),
      malformedJson(e.valid).map(({ label, body }) => ({ label: `malformed:${label}`, body, status: [400] })),
      fc
        .dictionary(text(10), anyValue, { maxKeys: 4 })
        .filter((o) => !(key in o))
        // A random object may also hold an invalid model or stream, which may be named first.
        .map((o) => json("random:without-required", o, key, "model", "stream")),
    ),
  );
}

/** OpenAI's error shape (Anthropic's on /v1/messages), with a message that says something. */
function checkAnswer(path: string, c: Case, a: Answer): void {
  const fail = (what: string) => {
    throw new Error(`${what} [${c.label}] -> ${a.status} ${a.contentType} ${a.text.slice(0, 300)}`);
  };
  if (a.status >= 500) fail("5xx");
  if (!c.status.includes(a.status)) fail(`status not in ${c.status.join("/")}`);
  if (!a.contentType.startsWith("application/json")) fail("not JSON");
  const error = a.json?.error;
  if (typeof error?.message !== "string" || error.message.length === 0) fail("no error.message");
  if (typeof error.type !== "string") fail("no error.type");
  if (path === "/v1/messages") {
    if (a.json.type !== "error") fail("not Anthropic's shape");
    return;
  }
  if (!("param" in error) || !("code" in error)) fail("no error.param / error.code");
  if (c.params !== undefined && !c.params.includes(String(error.param).split(".")[0] as string)) {
    fail(`param is not one of ${c.params.join(", ")}`);
  }
}

describe("fuzz /v1", () => {
  let stack: Stack;
  let before: ReturnType<typeof upstreamCounts>;
  const labels: Record<string, Set<string>> = {};

  beforeAll(async () => {
    stack = await startStack({
      env: { LOG_LEVEL: "warn", MAX_BODY_BYTES: String(16 * 1024 * 1024) },
      emulator: { preload: ["qwen/qwen3-4b-2507"] },
    });
    before = upstreamCounts(stack.emu);
  });
  afterAll(async () => {
    await stack?.close();
  });

  for (const [index, e] of ENDPOINTS.entries()) {
    it(`POST ${e.path}: ${RUNS} invalid bodies answered 4xx in OpenAI's shape, nothing upstream`, async () => {
      const seen = new Set<string>();
      labels[e.path] = seen;
      await fc.assert(
        fc.asyncProperty(invalidCase(e), async (c) => {
          const a = await post(`${stack.url}${e.path}`, c.body);
          checkAnswer(e.path, c, a);
          seen.add(c.label.split(":")[0] === "malformed" ? "malformed" : c.label);
          expect(upstreamCounts(stack.emu)).toEqual(before);
        }),
        { numRuns: RUNS, seed: SEED + 100 + index },
      );
      expect(seen.size).toBeGreaterThanOrEqual(8);
      const health = await fetch(`${stack.url}/health`);
      expect(health.status).toBe(200);
      await health.body?.cancel();
    }, 60_000);
  }

  it("a body that is not JSON by content type is a 415 in OpenAI's shape", async () => {
    for (const { path } of ENDPOINTS) {
      const a = await post(`${stack.url}${path}`, "hello", "text/plain");
      checkAnswer(path, { label: "text/plain", body: "hello", status: [415] }, a);
      const none = await post(`${stack.url}${path}`, '{"model":"x"}', null);
      checkAnswer(path, { label: "no content type", body: "", status: [400, 415] }, none);
    }
    expect(upstreamCounts(stack.emu)).toEqual(before);
  });

  it("the service logged no error while being fuzzed", () => {
    const errors = stack.logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 50);
    expect(errors).toEqual([]);
  });
});
