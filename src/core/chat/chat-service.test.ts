import { describe, expect, it } from "vitest";
import { ServiceError } from "../../errors.ts";
import type { ChatEngine, ChatEvent, ChatRequest, LoadedModel } from "../../upstreams/types.ts";
import type { ChatEnd, ChatObserver, ChatReport, ModelObserver } from "../metrics/observer.ts";
import {
  type Deferred,
  deferred,
  downloadedModel,
  fakeUpstream,
  loadedModel,
} from "../models/fake-upstream.test-helper.ts";
import { ModelGate } from "../models/model-gate.ts";
import { ActiveChats } from "./active-chats.ts";
import { Admission } from "./admission.ts";
import { type ChatOutput, type ChatRun, ChatService } from "./chat-service.ts";
import { ModelSlots } from "./model-slots.ts";

const QWEN = "qwen/qwen3-4b-2507";
const GEMMA = "google/gemma-3-1b";

/** What one call of the fake engine does. */
type Script =
  | { kind: "fail"; error: unknown }
  | { kind: "reply"; deltas: string[]; holdAfterFirst?: Deferred<void>; thenFail?: unknown };

type Ending = "completed" | "failed" | "cancelled";

/**
 * A ChatEngine that answers each call by the next script (a two-delta reply when none is left),
 * records every request, and says how each stream ended: completed, failed, or cancelled by
 * return() — the path by which a consumer that stops early cancels generation upstream.
 */
class FakeChatEngine implements ChatEngine {
  readonly requests: ChatRequest[] = [];
  readonly scripts: Script[] = [];
  readonly endings: Array<Deferred<Ending>> = [];

  stream(request: ChatRequest): AsyncIterable<ChatEvent> {
    this.requests.push(request);
    const ending = deferred<Ending>();
    this.endings.push(ending);
    return this.#run(request, this.scripts.shift() ?? { kind: "reply", deltas: ["Hello", " there"] }, ending);
  }

  async *#run(request: ChatRequest, script: Script, ending: Deferred<Ending>): AsyncGenerator<ChatEvent> {
    let how: Ending = "cancelled";
    try {
      if (script.kind === "fail") {
        how = "failed";
        throw script.error;
      }
      for (const [i, content] of script.deltas.entries()) {
        yield { type: "delta", content };
        if (i === 0 && script.holdAfterFirst) await script.holdAfterFirst.promise;
      }
      if (script.thenFail !== undefined) {
        how = "failed";
        throw script.thenFail;
      }
      how = "completed";
      yield {
        type: "end",
        model: request.model,
        finishReason: "stop",
        usage: {
          promptTokens: 3,
          completionTokens: script.deltas.length,
          totalTokens: 3 + script.deltas.length,
        },
      };
    } finally {
      ending.resolve(how);
    }
  }
}

/** An observer that records what the core reports, and the chats in flight per model. */
class RecordingObserver implements ChatObserver, ModelObserver {
  readonly endings: ChatEnd[] = [];
  readonly refusals: Array<{ report: ChatReport; code: string }> = [];
  readonly loads: Array<{ model: string; outcome: string }> = [];
  readonly inFlightNow = new Map<string, number>();
  queued(): void {}
  notAdmitted(report: ChatReport, code: string): void {
    this.refusals.push({ report: { ...report }, code });
  }
  inFlight(model: string, delta: 1 | -1): void {
    this.inFlightNow.set(model, (this.inFlightNow.get(model) ?? 0) + delta);
  }
  ended(end: ChatEnd): void {
    this.endings.push({ ...end, report: { ...end.report } });
  }
  loadEnded(model: string, outcome: string): void {
    this.loads.push({ model, outcome });
  }
}

/** The real ActiveChats, counting how many chats it holds in all (it exposes only isBusy). */
class CountedActiveChats extends ActiveChats {
  total = 0;
  override add(model: string): void {
    this.total++;
    super.add(model);
  }
  override remove(model: string): void {
    this.total--;
    super.remove(model);
  }
}

function setup(
  opts: {
    autoLoad?: boolean;
    loaded?: LoadedModel[];
    modelTtlSeconds?: number;
    maxConcurrent?: number;
    perModel?: number;
  } = {},
) {
  const upstream = fakeUpstream({
    downloaded: [downloadedModel(QWEN), downloadedModel(GEMMA)],
    loaded: opts.loaded ?? [],
  });
  const active = new CountedActiveChats();
  const observer = new RecordingObserver();
  const gate = new ModelGate(upstream, active.isBusy, new Map(), 1_000, observer);
  const admission = new Admission({
    maxConcurrent: opts.maxConcurrent ?? 4,
    maxQueued: 4,
    queueTimeoutMs: 60_000,
  });
  const engine = new FakeChatEngine();
  const slots = new ModelSlots({ perModel: opts.perModel ?? 4, maxQueued: 4, queueTimeoutMs: 60_000 });
  const service = new ChatService(engine, gate, admission, active, slots, {
    autoLoad: opts.autoLoad ?? true,
    autoLoadExclusive: false,
    modelTtlSeconds: opts.modelTtlSeconds,
    // Every progress value passes: the throttle has its own tests.
    progressIntervalMs: 0,
    observer,
  });
  return { service, engine, gate, fake: upstream.models, active, admission, slots, observer };
}

/** Lets pending promise callbacks run until `condition` holds (the event), at most 1,000 turns. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise<void>((r) => setImmediate(r));
  expect(condition()).toBe(true);
}

function chatRun(model: string, signal = new AbortController().signal): ChatRun {
  return {
    model,
    messages: [{ role: "user", content: "hi" }],
    params: { temperature: 0.2 },
    signal,
    timings: { upstreamMs: 0 },
  };
}

/** Admits a chat as a surface does, then runs it. */
async function start(service: ChatService, run: ChatRun): Promise<AsyncGenerator<ChatOutput>> {
  return service.run(run, await service.admit(run.signal));
}

async function collect(started: Promise<AsyncIterable<ChatOutput>>): Promise<ChatOutput[]> {
  const out: ChatOutput[] = [];
  for await (const e of await started) out.push(e);
  return out;
}

const kinds = (out: ChatOutput[]) => out.map((e) => e.type);
const notLoaded = (model: string) =>
  new ServiceError(404, "model_not_loaded", `Model "${model}" is not loaded`);

describe("on-demand loading", () => {
  it("loads an unknown model first, yielding progress before any delta, and chats with the loaded identifier", async () => {
    const { service, engine, fake, active } = setup({ modelTtlSeconds: 300 });
    const run = chatRun("Qwen/Qwen3-4B-2507");
    const done = collect(start(service, run));

    const load = await fake.loadCall(0);
    expect(load.opts).toMatchObject({ modelKey: QWEN, ttlSeconds: 300 });
    expect(engine.requests).toEqual([]);
    load.progress(0.5);
    load.progress(1);
    load.succeed();
    const out = await done;

    expect(kinds(out)).toEqual(["progress", "progress", "delta", "delta", "end"]);
    expect(out.slice(0, 2)).toEqual([
      { type: "progress", progress: 0.5 },
      { type: "progress", progress: 1 },
    ]);
    expect(engine.requests).toHaveLength(1);
    expect(engine.requests[0]).toMatchObject({
      model: QWEN,
      messages: run.messages,
      params: run.params,
      signal: run.signal,
    });
    expect(out.at(-1)).toMatchObject({ type: "end", model: QWEN, finishReason: "stop" });
    expect(run.timings.loadMs).toBeGreaterThanOrEqual(0);
    expect(fake.loads).toHaveLength(1);
    expect(active.total).toBe(0);
  });

  it("a model already loaded, named in another case, goes to the engine under its loaded name without a load", async () => {
    const { service, engine, fake } = setup({ loaded: [loadedModel(QWEN)] });
    const run = chatRun("QWEN/QWEN3-4B-2507");
    const out = await collect(start(service, run));
    expect(kinds(out)).toEqual(["delta", "delta", "end"]);
    expect(engine.requests.map((r) => r.model)).toEqual([QWEN]);
    expect(fake.loads).toEqual([]);
    expect(run.timings.loadMs).toBeUndefined();
  });

  it("a load failure fails the chat before the engine is asked", async () => {
    const { service, engine, fake, active, admission } = setup();
    const failure = collect(start(service, chatRun(QWEN))).catch((e: unknown) => e);
    const oom = new ServiceError(507, "insufficient_memory", "out of memory");
    (await fake.loadCall(0)).fail(oom);
    expect(await failure).toBe(oom);
    expect(engine.requests).toEqual([]);
    expect(active.total).toBe(0);
    expect(admission.running).toBe(0);
  });

  it("with AUTO_LOAD off nothing is loaded: the engine's model_not_loaded reaches the caller, once", async () => {
    const { service, engine, fake } = setup({ autoLoad: false });
    engine.scripts.push({ kind: "fail", error: notLoaded(QWEN) });
    const e = await collect(start(service, chatRun(QWEN))).catch((error: unknown) => error);
    expect(e).toMatchObject({ code: "model_not_loaded" });
    expect(engine.requests.map((r) => r.model)).toEqual([QWEN]);
    expect(fake.loads).toEqual([]);
  });

  it("with AUTO_LOAD off a loaded model named in another case still reaches the engine under its loaded name", async () => {
    const { service, engine, fake } = setup({ autoLoad: false, loaded: [loadedModel(QWEN)] });
    const out = await collect(start(service, chatRun("Qwen/Qwen3-4B-2507")));
    expect(kinds(out)).toEqual(["delta", "delta", "end"]);
    expect(engine.requests.map((r) => r.model)).toEqual([QWEN]);
    expect(fake.loads).toEqual([]);
  });
});

describe("retry after model_not_loaded", () => {
  it("a model unloaded behind the gate's back is loaded, and the chat retried once", async () => {
    const { service, engine, gate, fake } = setup({ loaded: [loadedModel(QWEN)] });
    await gate.listLoaded();
    expect(gate.knownLoaded(QWEN)).toBe(QWEN);
    // Gone upstream (TTL, or unloaded by hand) while the gate still thinks it loaded.
    fake.loaded = [];
    engine.scripts.push({ kind: "fail", error: notLoaded(QWEN) });

    const done = collect(start(service, chatRun(QWEN)));
    const load = await fake.loadCall(0);
    expect(load.opts.modelKey).toBe(QWEN);
    load.progress(1);
    load.succeed();
    const out = await done;

    expect(kinds(out)).toEqual(["progress", "delta", "delta", "end"]);
    expect(engine.requests.map((r) => r.model)).toEqual([QWEN, QWEN]);
    expect(await engine.endings[0]?.promise).toBe("failed");
    expect(await engine.endings[1]?.promise).toBe("completed");
    expect(fake.loads).toHaveLength(1);
  });

  it("a second model_not_loaded is the answer: no third attempt", async () => {
    const { service, engine, gate, fake, active, admission } = setup({ loaded: [loadedModel(QWEN)] });
    await gate.listLoaded();
    engine.scripts.push({ kind: "fail", error: notLoaded(QWEN) }, { kind: "fail", error: notLoaded(QWEN) });
    const e = await collect(start(service, chatRun(QWEN))).catch((error: unknown) => error);
    expect(e).toMatchObject({ code: "model_not_loaded" });
    expect(engine.requests).toHaveLength(2);
    // Still listed as loaded: the gate found it there, and loaded nothing.
    expect(fake.loads).toEqual([]);
    expect(active.total).toBe(0);
    expect(admission.running).toBe(0);
  });

  it("other errors are not retried", async () => {
    const { service, engine, fake } = setup({ loaded: [loadedModel(QWEN)] });
    const boom = new ServiceError(502, "upstream_error", "the engine failed");
    engine.scripts.push({ kind: "fail", error: boom });
    expect(await collect(start(service, chatRun(QWEN))).catch((error: unknown) => error)).toBe(boom);
    expect(engine.requests).toHaveLength(1);
    expect(fake.loads).toEqual([]);
  });
});

describe("active chats and admission slots", () => {
  it("a running chat marks its model busy under the loaded name; the count is zero once it ends", async () => {
    const { service, engine, active, admission } = setup({ loaded: [loadedModel(QWEN)] });
    const hold = deferred();
    engine.scripts.push({ kind: "reply", deltas: ["a", "b"], holdAfterFirst: hold });
    const chat = await start(service, chatRun("Qwen/Qwen3-4B-2507"));

    expect(await chat.next()).toEqual({ done: false, value: { type: "delta", content: "a" } });
    expect(active.isBusy(loadedModel(QWEN))).toBe(true);
    expect(active.isBusy(loadedModel(GEMMA))).toBe(false);
    expect(active.total).toBe(1);
    expect(admission.running).toBe(1);

    hold.resolve();
    const rest: ChatOutput[] = [];
    for (let step = await chat.next(); !step.done; step = await chat.next()) rest.push(step.value);
    expect(kinds(rest)).toEqual(["delta", "end"]);
    expect(await engine.endings[0]?.promise).toBe("completed");
    expect(active.total).toBe(0);
    expect(active.isBusy(loadedModel(QWEN))).toBe(false);
    expect(admission.running).toBe(0);
  });

  it("the count is zero after a chat fails mid-stream", async () => {
    const { service, engine, active, admission } = setup({ loaded: [loadedModel(QWEN)] });
    const cut = new ServiceError(502, "upstream_error", "cut off");
    engine.scripts.push({ kind: "reply", deltas: ["partial"], thenFail: cut });
    const seen: ChatOutput[] = [];
    const e = await (async () => {
      for await (const event of await start(service, chatRun(QWEN))) seen.push(event);
    })().catch((error: unknown) => error);
    expect(e).toBe(cut);
    expect(kinds(seen)).toEqual(["delta"]);
    expect(await engine.endings[0]?.promise).toBe("failed");
    expect(engine.requests).toHaveLength(1);
    expect(active.total).toBe(0);
    expect(active.isBusy(loadedModel(QWEN))).toBe(false);
    expect(admission.running).toBe(0);
  });

  it("a consumer that stops early frees the count and the slot, and return() reaches the engine", async () => {
    const { service, engine, active, admission } = setup({ loaded: [loadedModel(QWEN)] });
    engine.scripts.push({ kind: "reply", deltas: ["a", "b", "c"] });
    const chat = await start(service, chatRun(QWEN));
    expect((await chat.next()).value).toEqual({ type: "delta", content: "a" });
    expect(active.total).toBe(1);

    expect(await chat.return(undefined)).toEqual({ done: true, value: undefined });
    expect(await engine.endings[0]?.promise).toBe("cancelled");
    expect(active.total).toBe(0);
    expect(active.isBusy(loadedModel(QWEN))).toBe(false);
    expect(admission.running).toBe(0);
  });

  it("a for-await loop that breaks early does the same", async () => {
    const { service, engine, active, admission } = setup({ loaded: [loadedModel(QWEN)] });
    engine.scripts.push({ kind: "reply", deltas: ["a", "b", "c"] });
    for await (const event of await start(service, chatRun(QWEN))) {
      expect(event).toEqual({ type: "delta", content: "a" });
      break;
    }
    expect(await engine.endings[0]?.promise).toBe("cancelled");
    expect(active.total).toBe(0);
    expect(admission.running).toBe(0);
  });

  it("at most MAX_CHATS_PER_MODEL chats reach one model; the next waits here, and goes once one ends", async () => {
    const { service, engine, slots } = setup({ loaded: [loadedModel(QWEN)], perModel: 1 });
    const hold = deferred();
    engine.scripts.push({ kind: "reply", deltas: ["a", "b"], holdAfterFirst: hold });
    const first = await start(service, chatRun(QWEN));
    expect(await first.next()).toEqual({ done: false, value: { type: "delta", content: "a" } });

    const second = await start(service, chatRun(QWEN));
    const secondStep = second.next();
    await until(() => slots.stats()[QWEN]?.queued === 1);
    expect(slots.stats()).toEqual({ [QWEN]: { running: 1, queued: 1 } });
    expect(engine.requests).toHaveLength(1);

    hold.resolve();
    for (let step = await first.next(); !step.done; step = await first.next());
    expect((await secondStep).value).toEqual({ type: "delta", content: "Hello" });
    expect(engine.requests).toHaveLength(2);
    for (let step = await second.next(); !step.done; step = await second.next());
    expect(slots.stats()).toEqual({});
  });

  it("a chat waiting for a model's slot can be cancelled, and never reaches the engine", async () => {
    const { service, engine, slots } = setup({ loaded: [loadedModel(QWEN)], perModel: 1 });
    const hold = deferred();
    engine.scripts.push({ kind: "reply", deltas: ["a", "b"], holdAfterFirst: hold });
    const first = await start(service, chatRun(QWEN));
    await first.next();
    const controller = new AbortController();
    const second = await start(service, { ...chatRun(QWEN), signal: controller.signal });
    const secondStep = second.next();
    await until(() => slots.stats()[QWEN]?.queued === 1);
    controller.abort();
    await expect(secondStep).rejects.toMatchObject({ status: 499, code: "cancelled" });
    expect(slots.stats()).toEqual({ [QWEN]: { running: 1, queued: 0 } });
    hold.resolve();
    for (let step = await first.next(); !step.done; step = await first.next());
    expect(engine.requests).toHaveLength(1);
  });
});

describe("what the core reports to metrics", () => {
  it("a completed chat: ok under the model key its alias-free, case-folded name resolves to, with tokens", async () => {
    const { service, observer } = setup({ loaded: [loadedModel(QWEN)] });
    const run = chatRun("Qwen/Qwen3-4B-2507");
    const ticket = await service.admit(run.signal, "reference");
    await collect(Promise.resolve(service.run(run, ticket)));
    expect(observer.endings).toHaveLength(1);
    expect(observer.endings[0]?.report).toEqual({
      surface: "reference",
      model: QWEN,
      outcome: "ok",
      promptTokens: 3,
      completionTokens: 2,
    });
    expect(observer.endings[0]?.usage?.completionTokens).toBe(2);
    expect(observer.inFlightNow.get(QWEN)).toBe(0);
  });

  it("a consumer that stops after the first delta: cancelled, and nothing left in flight", async () => {
    const { service, observer } = setup({ loaded: [loadedModel(QWEN)] });
    const chat = await start(service, chatRun(QWEN));
    await chat.next();
    await chat.return(undefined);
    expect(observer.endings.map((e) => e.report.outcome)).toEqual(["cancelled"]);
    expect(observer.inFlightNow.get(QWEN)).toBe(0);
  });

  it("a model nobody has: rejected under other, and the made-up name is never reported", async () => {
    const { service, observer } = setup();
    await expect(collect(start(service, chatRun("made-up-model")))).rejects.toMatchObject({
      code: "model_not_found",
    });
    expect(observer.endings.map((e) => e.report)).toEqual([
      { surface: "unknown", model: "other", outcome: "rejected" },
    ]);
    expect([...observer.inFlightNow.keys()]).toEqual([]);
  });

  it("an on-demand load is reported once, by model key, and the chat runs under that key", async () => {
    const { service, observer, fake } = setup();
    const done = collect(start(service, chatRun(GEMMA)));
    (await fake.loadCall(0)).succeed();
    await done;
    expect(observer.loads).toEqual([{ model: GEMMA, outcome: "ok" }]);
    expect(observer.endings[0]?.report).toMatchObject({ model: GEMMA, outcome: "ok" });
  });

  it("a chat refused at admission (queue full) is reported with its code", async () => {
    const { service, observer, admission } = setup({ maxConcurrent: 1 });
    const release = await admission.acquire();
    const waiting = Array.from({ length: 4 }, () => service.admit(new AbortController().signal, "openai"));
    await expect(service.admit(new AbortController().signal, "openai")).rejects.toMatchObject({
      code: "queue_full",
    });
    expect(observer.refusals).toEqual([
      { report: { surface: "openai", model: "other", outcome: "rejected" }, code: "queue_full" },
    ]);
    release();
    for (const w of waiting) (await w).release();
  });
});
