import { describe, expect, it, vi } from "vitest";
import { ServiceError } from "../../errors.ts";
import type { LoadedModel } from "../../upstreams/types.ts";
import { downloadedModel, FIXED_ENGINE, fakeUpstream, loadedModel } from "./fake-upstream.test-helper.ts";
import { ModelGate } from "./model-gate.ts";

const QWEN = "qwen/qwen3-4b-2507";
const GEMMA = "google/gemma-3-1b";
const EMBED = "text-embedding-nomic-embed-text-v1.5";

function setup(
  opts: { loaded?: LoadedModel[]; isBusy?: (m: LoadedModel) => boolean; extraDownloaded?: string[] } = {},
) {
  const upstream = fakeUpstream({
    downloaded: [
      downloadedModel(QWEN),
      downloadedModel(GEMMA),
      downloadedModel(EMBED, "embedding"),
      ...(opts.extraDownloaded ?? []).map((k) => downloadedModel(k)),
    ],
    loaded: opts.loaded ?? [],
  });
  const gate = new ModelGate(upstream, opts.isBusy ?? (() => false));
  return { gate, fake: upstream.models };
}

/**
 * The error a promise rejects with; fails the test if it resolves. Attach it as soon as the
 * promise exists, so that a rejection is never unhandled while the test does something else.
 */
function rejection(p: Promise<unknown>): Promise<ServiceError> {
  return p.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as ServiceError,
  );
}

/** Either outcome, without an unhandled rejection in between. */
function outcome<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/**
 * Lets every pending promise reaction run. The fakes do no I/O: everything the gate does with them
 * is promise reactions, all of which run before the next macrotask.
 */
const drainMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("one upstream load per model", () => {
  it("10 concurrent callers for one key cause one load, and all get the same result", async () => {
    const { gate, fake } = setup();
    const pending = Array.from({ length: 10 }, () => gate.ensureLoaded({ modelKey: QWEN }));
    const call = await fake.loadCall(0);
    expect(call.opts).toMatchObject({ modelKey: QWEN, type: "llm" });
    const model = call.succeed();
    const results = await Promise.all(pending);
    expect(fake.loads).toHaveLength(1);
    for (const r of results) {
      expect(r).toEqual({ model, unloaded: [], alreadyLoaded: false });
      expect(r).toBe(results[0]);
    }
  });

  it("names differing only in case share the gate and resolve to the canonical key", async () => {
    const { gate, fake } = setup();
    const pending = ["Qwen/Qwen3-4B-2507", QWEN, "QWEN/QWEN3-4B-2507"].map((modelKey) =>
      gate.ensureLoaded({ modelKey }),
    );
    const call = await fake.loadCall(0);
    expect(call.opts.modelKey).toBe(QWEN);
    call.succeed();
    const results = await Promise.all(pending);
    expect(results.map((r) => r.model.identifier)).toEqual([QWEN, QWEN, QWEN]);
    expect(results.map((r) => r.alreadyLoaded)).toEqual([false, false, false]);

    // Later, in yet another case: the loaded instance, not a second copy.
    const again = await gate.ensureLoaded({ modelKey: "qwen/QWEN3-4b-2507" });
    expect(again).toMatchObject({ alreadyLoaded: true, model: { identifier: QWEN } });
    expect(fake.loads).toHaveLength(1);
    expect(gate.knownLoaded("QWEN/qwen3-4B-2507")).toBe(QWEN);
  });

  it("an already loaded model is returned with alreadyLoaded:true and nothing is loaded", async () => {
    const qwen = loadedModel(QWEN);
    const { gate, fake } = setup({ loaded: [qwen] });
    expect(await gate.ensureLoaded({ modelKey: QWEN })).toEqual({
      model: qwen,
      unloaded: [],
      alreadyLoaded: true,
    });
    expect(fake.loads).toEqual([]);
    expect(fake.listDownloadedCalls).toBe(0);
  });

  it("an instance named by its identifier, in another case, counts as loaded", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(GEMMA, "My-Gemma")] });
    const r = await gate.ensureLoaded({ modelKey: "my-gemma" });
    expect(r).toMatchObject({ alreadyLoaded: true, model: { identifier: "My-Gemma", modelKey: GEMMA } });
    expect(fake.loads).toEqual([]);
  });

  it("a failed load rejects every waiter, and the next call starts a fresh load", async () => {
    const { gate, fake } = setup();
    const failures = Array.from({ length: 3 }, () => rejection(gate.ensureLoaded({ modelKey: QWEN })));
    const first = await fake.loadCall(0);
    const oom = new ServiceError(507, "insufficient_memory", "out of memory");
    first.fail(oom);
    for (const e of await Promise.all(failures)) expect(e).toBe(oom);

    const retry = gate.ensureLoaded({ modelKey: QWEN });
    const second = await fake.loadCall(1);
    const model = second.succeed();
    expect(await retry).toEqual({ model, unloaded: [], alreadyLoaded: false });
    expect(fake.loads).toHaveLength(2);
  });
});

describe("waiters", () => {
  it("one of two waiters leaving does not cancel the load; the other gets the result", async () => {
    const { gate, fake } = setup();
    const a = new AbortController();
    const b = new AbortController();
    const left = rejection(gate.ensureLoaded({ modelKey: QWEN, signal: a.signal }));
    const stays = gate.ensureLoaded({ modelKey: QWEN, signal: b.signal });
    const call = await fake.loadCall(0);

    a.abort();
    expect(await left).toMatchObject({ status: 499, code: "cancelled" });
    expect(await left).toBeInstanceOf(ServiceError);
    expect(call.signal.aborted).toBe(false);

    const model = call.succeed();
    expect(await stays).toEqual({ model, unloaded: [], alreadyLoaded: false });
  });

  it("when every waiter leaves, the upstream load's signal is aborted and each caller gets 499", async () => {
    const { gate, fake } = setup();
    const a = new AbortController();
    const b = new AbortController();
    const failures = [a, b].map((c) => rejection(gate.ensureLoaded({ modelKey: QWEN, signal: c.signal })));
    const call = await fake.loadCall(0);

    a.abort();
    expect(call.signal.aborted).toBe(false);
    b.abort();
    expect(call.signal.aborted).toBe(true);
    for (const e of await Promise.all(failures)) {
      expect(e).toBeInstanceOf(ServiceError);
      expect(e).toMatchObject({ status: 499, code: "cancelled" });
    }
    call.fail(new ServiceError(499, "cancelled", "load cancelled upstream"));
  });

  it("a caller joining after another left still gets the shared result", async () => {
    const { gate, fake } = setup();
    const a = new AbortController();
    const left = rejection(gate.ensureLoaded({ modelKey: QWEN, signal: a.signal }));
    const stays = gate.ensureLoaded({ modelKey: QWEN });
    const call = await fake.loadCall(0);
    a.abort();
    await left;

    const late = gate.ensureLoaded({ modelKey: QWEN, signal: new AbortController().signal });
    const model = call.succeed();
    const results = await Promise.all([stays, late]);
    expect(results.map((r) => r.model)).toEqual([model, model]);
    expect(fake.loads).toHaveLength(1);
    expect(call.signal.aborted).toBe(false);
  });

  // Intended: a load every waiter left is cancelled, and is nobody's load any more. Today it stays
  // in the in-flight map until it settles, so a newcomer joins it and fails with its cancellation.
  it("a caller arriving after every waiter left (load cancelled upstream, not yet settled) gets a fresh load", async () => {
    const { gate, fake } = setup();
    const a = new AbortController();
    const left = rejection(gate.ensureLoaded({ modelKey: QWEN, signal: a.signal }));
    const cancelled = await fake.loadCall(0);
    a.abort();
    await left;
    expect(cancelled.signal.aborted).toBe(true);

    const newcomer = outcome(gate.ensureLoaded({ modelKey: QWEN }));
    // The upstream acknowledges the cancellation, as LM Studio's manager does.
    cancelled.fail(new ServiceError(499, "cancelled", "Cancelled while trying to load"));
    void fake.loadCall(1).then((fresh) => fresh.succeed());
    const r = await newcomer;
    expect(r.ok ? undefined : r.error).toBeUndefined();
    expect(r).toMatchObject({ ok: true, value: { model: { identifier: QWEN }, alreadyLoaded: false } });
  });

  // Same gap, before the load reached the upstream: the newcomer gets the gate's own abort reason,
  // a plain Error (a 500 internal_error once it reaches a surface).
  it("a caller arriving after every waiter left, before the upstream load began, gets a fresh load", async () => {
    const { gate, fake } = setup();
    const a = new AbortController();
    const left = rejection(gate.ensureLoaded({ modelKey: QWEN, signal: a.signal }));
    a.abort();
    await left;

    const newcomer = outcome(gate.ensureLoaded({ modelKey: QWEN }));
    void fake.loadCall(0).then((fresh) => fresh.succeed());
    const r = await newcomer;
    expect(r.ok ? undefined : r.error).toBeUndefined();
    expect(r).toMatchObject({ ok: true, value: { model: { identifier: QWEN }, alreadyLoaded: false } });
  });

  // Intended: a caller that has already gone is told 499 (a ServiceError) and leaves no load
  // behind. Today #wait's throwIfAborted() throws the signal's reason instead, after
  // ensureLoaded already started a shared load with no waiter, which nothing ever cancels.
  it("a caller whose signal is already aborted gets 499 and leaves no live load behind", async () => {
    const { gate, fake } = setup();
    const gone = new AbortController();
    gone.abort(new Error("client went away"));
    const e = await rejection(gate.ensureLoaded({ modelKey: QWEN, signal: gone.signal }));
    expect.soft(e).toBeInstanceOf(ServiceError);
    expect.soft(e).toMatchObject({ status: 499, code: "cancelled" });
    await drainMicrotasks();
    expect.soft(fake.loads.filter((c) => !c.signal.aborted).map((c) => c.opts.modelKey)).toEqual([]);
  });

  it("progress reaches every waiter still waiting, and not one that left", async () => {
    const { gate, fake } = setup();
    const seen = { a: [] as number[], b: [] as number[], late: [] as number[] };
    const a = new AbortController();
    const left = rejection(
      gate.ensureLoaded({ modelKey: QWEN, signal: a.signal, onProgress: (p) => seen.a.push(p) }),
    );
    const b = gate.ensureLoaded({ modelKey: QWEN, onProgress: (p) => seen.b.push(p) });
    const call = await fake.loadCall(0);

    call.progress(0.25);
    a.abort();
    await left;
    call.progress(0.5);
    const late = gate.ensureLoaded({ modelKey: QWEN, onProgress: (p) => seen.late.push(p) });
    call.progress(0.75);
    call.progress(1);
    call.succeed();
    await Promise.all([b, late]);

    expect(seen).toEqual({ a: [0.25], b: [0.25, 0.5, 0.75, 1], late: [0.75, 1] });
  });
});

describe("exclusive loads", () => {
  it("unload every other model before loading, and report them", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(GEMMA), loadedModel(EMBED, EMBED, "embedding")] });
    const pending = gate.ensureLoaded({ modelKey: QWEN, exclusive: true });
    const call = await fake.loadCall(0);
    // The others are gone before the load starts (that is the point: make room).
    expect([...fake.unloads].sort()).toEqual([GEMMA, EMBED].sort());
    call.succeed();
    const r = await pending;
    expect([...r.unloaded].sort()).toEqual([GEMMA, EMBED].sort());
    expect(fake.loaded.map((m) => m.identifier)).toEqual([QWEN]);
  });

  it("on an already loaded model keep it and unload the rest, loading nothing", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(QWEN), loadedModel(GEMMA)] });
    const r = await gate.ensureLoaded({ modelKey: "Qwen/Qwen3-4B-2507", exclusive: true });
    expect(r).toMatchObject({ alreadyLoaded: true, unloaded: [GEMMA], model: { identifier: QWEN } });
    expect(fake.unloads).toEqual([GEMMA]);
    expect(fake.loads).toEqual([]);
  });

  it("refuse with 409 model_busy and retry-after while a chat runs on a model they would unload", async () => {
    const { gate, fake } = setup({
      loaded: [loadedModel(GEMMA), loadedModel(EMBED, EMBED, "embedding")],
      isBusy: (m) => m.identifier === GEMMA,
    });
    const e = await rejection(gate.ensureLoaded({ modelKey: QWEN, exclusive: true }));
    expect(e).toBeInstanceOf(ServiceError);
    expect(e).toMatchObject({ status: 409, code: "model_busy", headers: { "retry-after": "1" } });
    expect(e.message).toContain(`"${GEMMA}"`);
    expect(e.message).not.toContain(EMBED);
    expect(fake.unloads).toEqual([]);
    expect(fake.loads).toEqual([]);
  });

  it("an exclusive caller joining a non-exclusive load still gets the others unloaded", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(GEMMA)] });
    const plain = gate.ensureLoaded({ modelKey: QWEN });
    const call = await fake.loadCall(0);
    const exclusive = gate.ensureLoaded({ modelKey: QWEN, exclusive: true });
    expect(fake.unloads).toEqual([]);
    const model = call.succeed();

    expect(await plain).toEqual({ model, unloaded: [], alreadyLoaded: false });
    expect(await exclusive).toEqual({ model, unloaded: [GEMMA], alreadyLoaded: false });
    expect(fake.unloads).toEqual([GEMMA]);
    expect(fake.loaded.map((m) => m.identifier)).toEqual([QWEN]);
    expect(fake.loads).toHaveLength(1);
  });

  it("an exclusive caller joining a non-exclusive load is refused with 409 when another model is busy", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(GEMMA)], isBusy: (m) => m.modelKey === GEMMA });
    const plain = gate.ensureLoaded({ modelKey: QWEN });
    const call = await fake.loadCall(0);
    const exclusive = rejection(gate.ensureLoaded({ modelKey: QWEN, exclusive: true }));
    const model = call.succeed();

    expect(await exclusive).toMatchObject({ status: 409, code: "model_busy" });
    expect(await plain).toEqual({ model, unloaded: [], alreadyLoaded: false });
    expect(fake.unloads).toEqual([]);
  });
});

describe("names that do not resolve", () => {
  it("a model that is not downloaded: 404 model_not_found with close matches", async () => {
    const { gate, fake } = setup();
    const e = await rejection(gate.ensureLoaded({ modelKey: "qwen/qwen3-4b" }));
    expect(e).toBeInstanceOf(ServiceError);
    expect(e).toMatchObject({ status: 404, code: "model_not_found" });
    expect(e.extra.suggestions).toEqual([QWEN]);
    expect(e.message).toContain('"qwen/qwen3-4b"');
    expect(e.message).toContain("Fake Studio");
    expect(fake.loads).toEqual([]);
  });

  it("a name matching two downloaded keys that differ only in case: 404 listing both", async () => {
    const { gate, fake } = setup({ extraDownloaded: ["Acme/Model-X", "acme/model-x"] });
    const e = await rejection(gate.ensureLoaded({ modelKey: "ACME/MODEL-X" }));
    expect(e).toMatchObject({ status: 404, code: "model_not_found" });
    expect(e.extra.suggestions).toEqual(["Acme/Model-X", "acme/model-x"]);
    expect(e.message).toContain('"Acme/Model-X"');
    expect(e.message).toContain('"acme/model-x"');
    expect(fake.loads).toEqual([]);

    // Named exactly, either one is that one.
    const exact = gate.ensureLoaded({ modelKey: "acme/model-x" });
    (await fake.loadCall(0)).succeed();
    expect((await exact).model.modelKey).toBe("acme/model-x");
  });

  it("a name matching two loaded instances that differ only in case: 404 listing both", async () => {
    const { gate, fake } = setup({
      loaded: [loadedModel(GEMMA, "Mine"), loadedModel(QWEN, "mine")],
    });
    const e = await rejection(gate.ensureLoaded({ modelKey: "MINE" }));
    expect(e).toMatchObject({ status: 404, code: "model_not_found" });
    expect(e.extra.suggestions).toEqual(["Mine", "mine"]);
    expect(fake.loads).toEqual([]);
  });
});

describe("an engine that manages its models itself (no loadUnload)", () => {
  function fixedEngine() {
    const upstream = fakeUpstream({
      capabilities: FIXED_ENGINE,
      loaded: [loadedModel(QWEN), loadedModel(GEMMA)],
    });
    return { gate: new ModelGate(upstream, () => false), fake: upstream.models };
  }

  it("load of a listed model is alreadyLoaded (in any case)", async () => {
    const { gate, fake } = fixedEngine();
    const r = await gate.ensureLoaded({ modelKey: "Google/Gemma-3-1B" });
    expect(r).toMatchObject({ alreadyLoaded: true, unloaded: [], model: { identifier: GEMMA } });
    expect(fake.loads).toEqual([]);
  });

  it("load of an unlisted model is 404 model_not_found, and listDownloaded falls back to the list", async () => {
    const { gate, fake } = fixedEngine();
    const e = await rejection(gate.ensureLoaded({ modelKey: "google/gemma-3-4b" }));
    expect(e).toMatchObject({ status: 404, code: "model_not_found" });
    expect(e.extra.suggestions).toContain(GEMMA);
    expect((await gate.listDownloaded()).map((m) => m.modelKey)).toEqual([QWEN, GEMMA]);
    expect(fake.listDownloadedCalls).toBe(0);
  });

  it("unload (one or all) and exclusive loads are 409 not_supported", async () => {
    const { gate, fake } = fixedEngine();
    for (const attempt of [
      gate.unload(QWEN),
      gate.unload(undefined),
      gate.ensureLoaded({ modelKey: QWEN, exclusive: true }),
    ]) {
      const e = await rejection(attempt);
      expect(e).toBeInstanceOf(ServiceError);
      expect(e).toMatchObject({ status: 409, code: "not_supported" });
      expect(e.message).toMatch(/^Fake Studio manages its models itself/);
    }
    expect(fake.unloads).toEqual([]);
  });
});

describe("unload", () => {
  it("a name in the wrong case unloads the instance it names, and only that one", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(QWEN), loadedModel(GEMMA)] });
    await gate.listLoaded();
    expect(await gate.unload("QWEN/Qwen3-4B-2507")).toEqual([QWEN]);
    expect(fake.unloads).toEqual([QWEN]);
    expect(fake.loaded.map((m) => m.identifier)).toEqual([GEMMA]);
    // Forgotten at once: a chat racing the unload goes through a load, not straight upstream.
    expect(gate.knownLoaded(QWEN)).toBeUndefined();
    expect(gate.knownLoaded(GEMMA)).toBe(GEMMA);
  });

  it("an identifier in the wrong case unloads that instance", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(GEMMA, "Gemma-A"), loadedModel(GEMMA, "g-b")] });
    expect(await gate.unload("gemma-a")).toEqual(["Gemma-A"]);
    expect(fake.unloads).toEqual(["Gemma-A"]);
  });

  it("a model key unloads every instance of it", async () => {
    const { gate, fake } = setup({
      loaded: [loadedModel(GEMMA), loadedModel(GEMMA, `${GEMMA}:2`), loadedModel(QWEN)],
    });
    expect(await gate.unload(GEMMA)).toEqual([GEMMA, `${GEMMA}:2`]);
    expect(fake.loaded.map((m) => m.identifier)).toEqual([QWEN]);
  });

  it("an unknown name is 404 nothing_to_unload with close matches, and unloads nothing", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(QWEN)] });
    const e = await rejection(gate.unload("qwen/qwen3-4b"));
    expect(e).toBeInstanceOf(ServiceError);
    expect(e).toMatchObject({ status: 404, code: "nothing_to_unload" });
    expect(e.extra.suggestions).toEqual([QWEN]);
    expect(e.message).toContain(`loaded: ${QWEN}`);
    expect(fake.unloads).toEqual([]);
  });

  it("no name unloads everything", async () => {
    const { gate, fake } = setup({ loaded: [loadedModel(QWEN), loadedModel(EMBED, EMBED, "embedding")] });
    expect(await gate.unload(undefined)).toEqual([QWEN, EMBED]);
    expect(fake.loaded).toEqual([]);
  });
});

describe("how long the list of loaded models is trusted (LOADED_MODELS_CACHE_MS)", () => {
  it("within the window a loaded model is known, in any case; past it, nothing is, until the next listing", async () => {
    const upstream = fakeUpstream({ loaded: [loadedModel(QWEN)] });
    const trusting = new ModelGate(upstream, () => false, new Map(), 60_000);
    expect(trusting.knownLoaded(QWEN)).toBeUndefined();
    await trusting.listLoaded();
    expect(trusting.knownLoaded("Qwen/Qwen3-4B-2507")).toBe(QWEN);

    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      const oneSecond = new ModelGate(upstream, () => false, new Map(), 1_000);
      await oneSecond.listLoaded();
      vi.advanceTimersByTime(999);
      expect(oneSecond.knownLoaded(QWEN)).toBe(QWEN);
      vi.advanceTimersByTime(2);
      expect(oneSecond.knownLoaded(QWEN)).toBeUndefined();
      await oneSecond.listLoaded();
      expect(oneSecond.knownLoaded(QWEN)).toBe(QWEN);
    } finally {
      vi.useRealTimers();
    }
  });
});
