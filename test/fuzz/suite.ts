/**
 * The shared shape of the invalid-body fuzz files: one stack (the real service on a real port in
 * front of the LM Studio emulator), 1,000 generated invalid bodies per endpoint, and a memory test
 * that warms up, records its own baseline and sends its own batches. After every test the service
 * must have logged no error. Split over two files so that vitest runs the model and the chat
 * endpoints in two workers.
 *
 * Seeds are fixed for reproducibility; FUZZ_SEED=<n> explores another part of the space (fast-check
 * prints the seed and path of any counterexample to replay it).
 */
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";
import {
  type Case,
  IMAGE_LIMIT,
  invalidChatCase,
  invalidLoadCase,
  invalidUnloadCase,
  randomJsonCase,
  validChatBody,
  validLoadBody,
  validUnloadBody,
} from "./arbitraries.ts";
import { checkErrorAnswer, type MemorySample, post, sampleMemory, upstreamCounts } from "./http.ts";

export const RUNS = 1_000;
export const SEED = Number(process.env.FUZZ_SEED ?? 4_242);
/**
 * The memory test: a warm-up of RUNS invalid bodies (V8 and malloc grow to their working size
 * during the first thousand requests), then this many measured batches of half as many.
 */
const MEMORY_BATCHES = 2;

/** Big bodies that make V8 and malloc grow to their working size: the memory test's warm-up. */
const HEAVY: Case[] = [
  {
    label: "heavy:300K-string",
    text: JSON.stringify({ x: "é".repeat(300_000) }),
    status: [422],
    loc: [],
  },
  {
    label: "heavy:deep",
    text: `{"x":${"[".repeat(3_000)}${"]".repeat(3_000)}}`,
    status: [422],
    loc: [],
  },
  {
    label: "heavy:10001-messages",
    text: JSON.stringify({
      model_key: "",
      messages: Array(10_001).fill({ role: "user", content: "hi" }),
    }),
    status: [422],
  },
];

const withRandom = (mutations: fc.Arbitrary<Case>) =>
  fc.oneof({ weight: 4, arbitrary: mutations }, { weight: 1, arbitrary: randomJsonCase });

export interface Endpoint {
  path: string;
  /** Invalid bodies: mutations of valid ones, and random JSON. */
  cases: fc.Arbitrary<Case>;
  /** Valid bodies (for malformed-JSON variants and content-type checks). */
  valid: fc.Arbitrary<Record<string, unknown>>;
  /** Distinct generators (labels) that must have been exercised. */
  minKinds: number;
}

const chat = (path: string, kind: "generic" | "regular" | "vision"): Endpoint => ({
  path,
  cases: withRandom(invalidChatCase(kind)),
  valid: validChatBody(kind),
  minKinds: 40,
});

export const MODEL_ENDPOINTS: Endpoint[] = [
  { path: "/models/load", cases: withRandom(invalidLoadCase), valid: validLoadBody, minKinds: 12 },
  { path: "/models/load/stream", cases: withRandom(invalidLoadCase), valid: validLoadBody, minKinds: 12 },
  { path: "/models/unload", cases: withRandom(invalidUnloadCase), valid: validUnloadBody, minKinds: 9 },
];

export const CHAT_ENDPOINTS: Endpoint[] = [
  chat("/chat", "generic"),
  chat("/chat/stream", "generic"),
  chat("/chat/regular", "regular"),
  chat("/chat/regular/stream", "regular"),
  chat("/chat/vision", "vision"),
  chat("/chat/vision/stream", "vision"),
];

export interface FuzzContext {
  stack(): Stack;
  /** /health answers 200. */
  expectHealthy(): Promise<void>;
  /** The emulator has received no chat, load or unload since the stack started. */
  expectNothingUpstream(): void;
}

interface Tally {
  total: number;
  byStatus: Record<number, number>;
  labels: Set<string>;
}
const newTally = (): Tally => ({ total: 0, byStatus: {}, labels: new Set() });

/**
 * Registers one 1,000-run property per endpoint, then `extra` tests, then the memory test. Every
 * test stands alone: after each, the service must have logged no error.
 */
export function defineFuzzSuite(
  name: string,
  endpoints: Endpoint[],
  extra: (ctx: FuzzContext) => void,
): void {
  let stack: Stack;
  let before: ReturnType<typeof upstreamCounts>;
  let logsChecked = 0;
  /** For the closing summary only: what every test sent, per endpoint. */
  const tried: Record<string, Tally> = {};
  const memory: Record<string, MemorySample> = {};

  const ctx: FuzzContext = {
    stack: () => stack,
    async expectHealthy() {
      const r = await fetch(`${stack.url}/health`);
      expect(r.status).toBe(200);
      await r.body?.cancel();
    },
    expectNothingUpstream() {
      expect(upstreamCounts(stack.emu)).toEqual(before);
    },
  };

  /** Sends one case, checks the answer, and that the emulator saw nothing; counts it in `tally`. */
  async function sendCase(path: string, c: Case, tally?: Tally) {
    const a = await post(`${stack.url}${path}`, c.text);
    checkErrorAnswer(c, a);
    const now = upstreamCounts(stack.emu);
    if (now.chats !== before.chats || now.loads !== before.loads || now.unloads !== before.unloads) {
      throw new Error(`[${c.label}] reached the emulator: ${JSON.stringify({ before, now })}`);
    }
    tried[path] ??= newTally();
    for (const t of [tried[path], tally]) {
      if (!t) continue;
      t.total++;
      t.byStatus[a.status] = (t.byStatus[a.status] ?? 0) + 1;
      t.labels.add(c.label);
    }
  }

  beforeAll(async () => {
    stack = await startStack({
      // warn: the harness keeps every log line in memory, which would count as growth below.
      // MAX_BODY_BYTES well above the generated bodies: the fuzzers test validation, not the limit.
      env: {
        LOG_LEVEL: "warn",
        MAX_IMAGE_BYTES: String(IMAGE_LIMIT),
        MAX_BODY_BYTES: String(16 * 1024 * 1024),
      },
      emulator: { preload: ["qwen/qwen3-4b-2507", "qwen3-vl-4b-instruct"] },
    });
    before = upstreamCounts(stack.emu);
  });

  afterEach(() => {
    const fresh = stack.logs.slice(logsChecked);
    logsChecked = stack.logs.length;
    const errors = fresh.filter((l) => {
      try {
        return (JSON.parse(l) as { level: number }).level >= 50;
      } catch {
        return true;
      }
    });
    expect(errors, "the service logged no error").toEqual([]);
  });

  afterAll(async () => {
    await stack?.close();
    const lines = Object.entries(tried).map(
      ([path, t]) =>
        `${path}: ${t.total} invalid bodies, statuses ${JSON.stringify(t.byStatus)}, ${t.labels.size} kinds`,
    );
    const mem = Object.entries(memory).map(([k, m]) => `${k}: ${JSON.stringify(m)}`);
    console.info(
      `[fuzz ${name}]\n  ${lines.join("\n  ")}\n[fuzz ${name}] memory after GC\n  ${mem.join("\n  ")}`,
    );
  });

  for (const [index, { path, cases, minKinds }] of endpoints.entries()) {
    it(`POST ${path}: ${RUNS} invalid bodies answered 4xx with a detail, nothing upstream`, async () => {
      const tally = newTally();
      await fc.assert(
        fc.asyncProperty(cases, (c) => sendCase(path, c, tally)),
        { numRuns: RUNS, seed: SEED + index },
      );
      expect(tally.total).toBeGreaterThanOrEqual(RUNS);
      for (const status of Object.keys(tally.byStatus).map(Number)) {
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
      }
      expect(tally.labels.size).toBeGreaterThanOrEqual(minKinds);
      await ctx.expectHealthy();
      ctx.expectNothingUpstream();
    }, 60_000);
  }

  extra(ctx);

  it(`memory: after a warm-up, ${MEMORY_BATCHES} batches of ${RUNS / 2} invalid bodies leave the heap where it was, and RSS levels off`, async () => {
    /** `total` bodies spread over the endpoints, each endpoint's from its own seed. */
    const sendBatch = async (total: number, seed: number) => {
      for (const [index, { path, cases }] of endpoints.entries()) {
        const numRuns = Math.ceil(total / endpoints.length);
        for (const c of fc.sample(cases, { numRuns, seed: seed + index })) await sendCase(path, c);
      }
    };
    // Warm-up, then the baseline.
    for (const { path } of endpoints) for (const c of HEAVY) await sendCase(path, c);
    await sendBatch(RUNS, SEED - 1_000);
    await ctx.expectHealthy();
    const base = await sampleMemory();
    memory.baseline = base;
    const batches: MemorySample[] = [];
    for (let batch = 1; batch <= MEMORY_BATCHES; batch++) {
      await sendBatch(RUNS / 2, SEED + 1_000 * batch);
      const sample = await sampleMemory();
      memory[`after batch ${batch}`] = sample;
      batches.push(sample);
    }
    const first = batches[0] as MemorySample;
    const last = batches.at(-1) as MemorySample;
    // Every sample is taken after a forced full GC (twice), in this process, which runs the
    // service (startStack is in-process), the emulator and the client.
    // 1. The JS heap in use is what is retained: thousands of requests later it is where it was
    //    after the warm-up.
    expect(last.heapUsedMb - base.heapUsedMb).toBeLessThan(16);
    expect(last.externalMb - base.externalMb).toBeLessThan(16);
    // 2. RSS also holds what V8 and malloc keep after freeing: generous bounds, from the warm-up
    //    to the last batch, and across the batches it must level off.
    expect(last.rssMb - base.rssMb).toBeLessThan(150);
    expect(last.rssMb - first.rssMb).toBeLessThan(75);
    await ctx.expectHealthy();
    ctx.expectNothingUpstream();
  }, 60_000);
}

export { checkErrorAnswer, post };
