/**
 * The shared shape of the invalid-body fuzz files: one stack (the real service on a real port in
 * front of the LM Studio emulator), a warm-up batch and a memory baseline, 1,000 generated invalid
 * bodies per endpoint, then memory, health and log checks. Split over two files so that vitest runs
 * the model and the chat endpoints in two workers.
 *
 * Seeds are fixed for reproducibility; FUZZ_SEED=<n> explores another part of the space (fast-check
 * prints the seed and path of any counterexample to replay it).
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
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

/**
 * Registers, in order: warm-up + memory baseline, one 1,000-run property per endpoint (health
 * and memory sampled after each), then `extra` tests, then the memory and log checks.
 */
export function defineFuzzSuite(
  name: string,
  endpoints: Endpoint[],
  extra: (ctx: FuzzContext) => void,
): void {
  let stack: Stack;
  let before: ReturnType<typeof upstreamCounts>;
  const tried: Record<string, { total: number; byStatus: Record<number, number>; labels: Set<string> }> = {};
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

  /** Sends one case, checks the answer, and that the emulator saw nothing. */
  async function sendCase(path: string, c: Case) {
    const a = await post(`${stack.url}${path}`, c.text);
    checkErrorAnswer(c, a);
    const now = upstreamCounts(stack.emu);
    if (now.chats !== before.chats || now.loads !== before.loads || now.unloads !== before.unloads) {
      throw new Error(`[${c.label}] reached the emulator: ${JSON.stringify({ before, now })}`);
    }
    tried[path] ??= { total: 0, byStatus: {}, labels: new Set() };
    const t = tried[path];
    t.total++;
    t.byStatus[a.status] = (t.byStatus[a.status] ?? 0) + 1;
    t.labels.add(c.label);
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

  afterAll(async () => {
    await stack?.close();
    const lines = Object.entries(tried).map(
      ([path, t]) =>
        `${path}: ${t.total} invalid bodies (incl. warm-up), statuses ${JSON.stringify(t.byStatus)}, ${t.labels.size} kinds`,
    );
    const mem = Object.entries(memory).map(([k, m]) => `${k}: ${JSON.stringify(m)}`);
    console.info(
      `[fuzz ${name}]\n  ${lines.join("\n  ")}\n[fuzz ${name}] memory after GC\n  ${mem.join("\n  ")}`,
    );
  });

  it("warm-up: 30 invalid and 3 heavy bodies per endpoint, then a memory baseline", async () => {
    // The heavy ones make V8 and malloc grow to their working size before the baseline is taken.
    const heavy: Case[] = [
      {
        label: "warm-up:300K-string",
        text: JSON.stringify({ x: "é".repeat(300_000) }),
        status: [422],
        loc: [],
      },
      {
        label: "warm-up:deep",
        text: `{"x":${"[".repeat(3_000)}${"]".repeat(3_000)}}`,
        status: [422],
        loc: [],
      },
      {
        label: "warm-up:10001-messages",
        text: JSON.stringify({
          model_key: "",
          messages: Array(10_001).fill({ role: "user", content: "hi" }),
        }),
        status: [422],
      },
    ];
    for (const { path, cases } of endpoints) {
      for (const c of [...heavy, ...fc.sample(cases, { numRuns: 30, seed: SEED - 1 })])
        await sendCase(path, c);
    }
    await ctx.expectHealthy();
    memory.baseline = await sampleMemory();
  }, 60_000);

  for (const [index, { path, cases, minKinds }] of endpoints.entries()) {
    it(`POST ${path}: ${RUNS} invalid bodies answered 4xx with a detail, nothing upstream`, async () => {
      const start = tried[path]?.total ?? 0;
      await fc.assert(
        fc.asyncProperty(cases, (c) => sendCase(path, c)),
        { numRuns: RUNS, seed: SEED + index },
      );
      const t = tried[path];
      expect(t?.total ?? 0).toBeGreaterThanOrEqual(start + RUNS);
      for (const status of Object.keys(t?.byStatus ?? {}).map(Number)) {
        expect(status).toBeGreaterThanOrEqual(400);
        expect(status).toBeLessThan(500);
      }
      expect(t?.labels.size).toBeGreaterThanOrEqual(minKinds);
      await ctx.expectHealthy();
      ctx.expectNothingUpstream();
      memory[`after ${path}`] = await sampleMemory();
    }, 60_000);
  }

  extra(ctx);

  it("memory: the heap does not grow, RSS levels off after the first 1,000-run batch", async () => {
    memory.end = await sampleMemory();
    const base = memory.baseline as MemorySample;
    const samples = endpoints.map(({ path }) => memory[`after ${path}`] as MemorySample);
    const first = samples[0] as MemorySample;
    const last = samples.at(-1) as MemorySample;
    const end = memory.end;
    // Every sample is taken after a forced full GC (twice), in this process, which runs the
    // service (startStack is in-process), the emulator and the client.
    // 1. The JS heap in use is what is retained: thousands of requests (every 1,000-run batch and
    //    the extra tests) later it is where it was after the warm-up.
    expect(end.heapUsedMb - base.heapUsedMb).toBeLessThan(16);
    expect(end.externalMb - base.externalMb).toBeLessThan(16);
    // 2. RSS also holds what V8 and malloc keep after freeing (V8 grows its heap reservation during
    //    the first batch): generous bounds, from the warm-up to the end of the 1,000-run batches,
    //    and across those batches it must level off.
    expect(last.rssMb - base.rssMb).toBeLessThan(150);
    expect(last.rssMb - first.rssMb).toBeLessThan(75);
    await ctx.expectHealthy();
  }, 30_000);

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
}

export { checkErrorAnswer, post };
