/** Conformance of the emulator's websocket side, driven by the real @lmstudio/sdk. */
import { LMStudioClient } from "@lmstudio/sdk-v2";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LmStudioEmulator } from "./emulator.ts";

const silentLogger = { info() {}, warn() {}, error() {}, debug() {} };
const QWEN = "qwen/qwen3-4b-2507";
const VL = "qwen3-vl-4b-instruct";
const GEMMA = "google/gemma-3-1b";
const NOMIC = "text-embedding-nomic-embed-text-v1.5";

let emu: LmStudioEmulator;
let client: LMStudioClient;
const extraClients: LMStudioClient[] = [];

function newClient(): LMStudioClient {
  const c = new LMStudioClient({ baseUrl: emu.wsUrl, logger: silentLogger });
  extraClients.push(c);
  return c;
}

async function dispose(c: LMStudioClient): Promise<void> {
  await c[Symbol.asyncDispose]().catch(() => {});
}

function timeout(ms: number): Promise<"timeout"> {
  return new Promise((r) => setTimeout(() => r("timeout"), ms));
}

async function rejection(p: Promise<unknown>): Promise<Error & { title?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { title?: string };
  }
  throw new Error("expected a rejection");
}

beforeAll(async () => {
  emu = await LmStudioEmulator.start({ loadTimeMs: 20 });
  client = new LMStudioClient({ baseUrl: emu.wsUrl, logger: silentLogger });
});

beforeEach(() => {
  emu.reset({ loadTimeMs: 20 });
});

afterEach(async () => {
  expect(emu.warnings).toEqual([]);
  for (const c of extraClients.splice(0)) await dispose(c);
});

afterAll(async () => {
  expect(emu.warnings).toEqual([]);
  await dispose(client);
  await emu.stop();
});

describe("system namespace", () => {
  it("answers the greeting and the version", async () => {
    const res = await fetch(`${emu.httpUrl}/lmstudio-greeting`);
    expect(await res.json()).toEqual({ lmstudio: true });
    // default profile 0.4
    expect(await client.system.getLMStudioVersion()).toEqual({ version: "0.4.21", build: 2 });
    emu.configure({ version: "0.4.2" });
    expect((await client.system.getLMStudioVersion()).version).toBe("0.4.2");
  });

  it("lists downloaded models with the 2.0.0 info fields", async () => {
    const all = await client.system.listDownloadedModels();
    expect(all.map((m) => m.modelKey)).toEqual(expect.arrayContaining([QWEN, VL, GEMMA, NOMIC]));
    const llms = await client.system.listDownloadedModels("llm");
    expect(llms.every((m) => m.type === "llm")).toBe(true);
    const qwen = llms.find((m) => m.modelKey === QWEN);
    expect(qwen).toMatchObject({ trainedForToolUse: true, maxContextLength: 262144, vision: false });
    expect(llms.find((m) => m.modelKey === VL)).toMatchObject({ vision: true });
    const emb = await client.system.listDownloadedModels("embedding");
    expect(emb.map((m) => m.modelKey)).toEqual([NOMIC]);
  });
});

describe("loading", () => {
  it("loads with progress, lists and reports the instance", async () => {
    expect(await client.llm.listLoaded()).toEqual([]);
    const progress: number[] = [];
    const model = await client.llm.load(QWEN, {
      identifier: "my-model",
      ttl: 300,
      config: { contextLength: 2048 },
      onProgress: (p) => progress.push(p),
    });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(progress.at(-1)).toBe(1);
    expect(model.identifier).toBe("my-model");
    expect(model.modelKey).toBe(QWEN);
    expect(await model.getContextLength()).toBe(2048);
    const info = await model.getModelInfo();
    expect(info).toMatchObject({ identifier: "my-model", contextLength: 2048, ttlMs: 300_000 });
    const listed = await client.llm.listLoaded();
    expect(listed.map((m) => m.identifier)).toEqual(["my-model"]);
    expect(emu.loaded()).toEqual([
      {
        identifier: "my-model",
        modelKey: QWEN,
        contextLength: 2048,
        ttlMs: 300_000,
        type: "llm",
      },
    ]);
    expect(emu.loads).toHaveLength(1);
    expect(emu.loads[0]).toMatchObject({
      endpoint: "loadModel",
      modelKey: QWEN,
      identifier: "my-model",
      ttlMs: 300_000,
      contextLength: 2048,
      outcome: "loaded",
    });
    expect(emu.loads[0]?.endedAt).toBeGreaterThan(emu.loads[0]?.startedAt ?? 0);
  });

  it("defaults identifiers to the key, then key:2, and rejects an identifier in use", async () => {
    const a = await client.llm.load(GEMMA, { verbose: false });
    const b = await client.llm.load(GEMMA, { verbose: false });
    expect([a.identifier, b.identifier]).toEqual([GEMMA, `${GEMMA}:2`]);
    const err = await rejection(client.llm.load(QWEN, { identifier: GEMMA, verbose: false }));
    // LM Studio: "already exists" (lmstudio-python test_load_duplicate_llm)
    expect(err.message).toContain(`A model with the identifier "${GEMMA}" already exists`);
    expect(emu.loads.at(-1)?.outcome).toBe("failed");
  });

  it("get-or-load returns a loaded model or loads it", async () => {
    emu.preload(GEMMA);
    const already = await client.llm.model(GEMMA, { verbose: false });
    expect(already.identifier).toBe(GEMMA);
    expect(emu.loads).toHaveLength(0);
    const progress: number[] = [];
    const loaded = await client.llm.model(VL, { onProgress: (p) => progress.push(p) });
    expect(loaded.identifier).toBe(VL);
    expect(loaded.vision).toBe(true);
    expect(progress).toEqual([0.25, 0.5, 0.75, 1]);
    expect(emu.loads).toMatchObject([
      { endpoint: "getOrLoad", modelKey: VL, identifier: VL, outcome: "loaded" },
    ]);
    // by loaded identifier too
    emu.preload(QWEN, { identifier: "custom" });
    expect((await client.llm.model("custom", { verbose: false })).modelKey).toBe(QWEN);
    // any loaded model
    expect((await client.llm.model()).identifier).toBe(GEMMA);
  });

  it("loads embedding models through the embedding namespace", async () => {
    const emb = await client.embedding.load(NOMIC, { verbose: false });
    expect(emb.identifier).toBe(NOMIC);
    expect(await emb.getContextLength()).toBe(2048);
    expect((await client.embedding.listLoaded()).map((m) => m.identifier)).toEqual([NOMIC]);
    expect(await client.llm.listLoaded()).toEqual([]);
  });

  it("expires an instance after its ttl", async () => {
    await client.llm.load(GEMMA, { ttl: 0.1, verbose: false });
    expect(emu.loads[0]?.ttlMs).toBe(100);
    expect(emu.loaded()).toHaveLength(1);
    await emu.waitFor(() => emu.loaded().length === 0, 1000);
    expect(await client.llm.listLoaded()).toEqual([]);
  });
});

describe("unloading", () => {
  it("unloads by identifier and by handle", async () => {
    const m = await client.llm.load(GEMMA, { verbose: false });
    emu.preload(QWEN, { identifier: "q" });
    await client.llm.unload("q");
    expect(emu.unloads).toEqual(["q"]);
    await m.unload();
    expect(emu.unloads).toEqual(["q", GEMMA]);
    expect(emu.loaded()).toEqual([]);
    const err = await rejection(m.getModelInfo());
    expect(err.message).toContain("already been unloaded");
  });
});

describe("errors", () => {
  it("generic.pathNotFound on a key that isn't downloaded", async () => {
    const err = await rejection(client.llm.load("nope/missing-model", { verbose: false }));
    expect(err.message).toContain("Cannot find a model with path");
    expect(err.title).toContain("nope/missing-model");
    expect(emu.loads[0]).toMatchObject({ modelKey: "nope/missing-model", outcome: "failed" });
    const err2 = await rejection(client.llm.model("nope/missing-model", { verbose: false }));
    expect(err2.message).toContain("Cannot find a model with path");
  });

  it("generic.noModelMatchingQuery on unload of an unknown identifier", async () => {
    const err = await rejection(client.llm.unload("ghost"));
    // the SDK rewrites generic.noModelMatchingQuery into its own text and keeps the server's title
    expect(err.title).toBe("No model found that fits the query.");
    expect(err.message).toContain("No loaded model satisfies all requirements");
    expect(emu.unloads).toEqual([]);
  });

  it("generic.noModelMatchingQuery when nothing is loaded", async () => {
    const err = await rejection(client.llm.model());
    expect(err.message).toContain("No loaded model satisfies all requirements");
  });

  it("generic.domainMismatch when loading an embedding model as an llm", async () => {
    const err = await rejection(client.llm.load(NOMIC, { verbose: false }));
    expect(err.message).toContain("wrong domain");
    const err2 = await rejection(client.embedding.load(GEMMA, { verbose: false }));
    expect(err2.message).toContain("wrong domain");
    emu.preload(NOMIC);
    const err3 = await rejection(client.llm.model(NOMIC, { verbose: false }));
    expect(err3.message).toContain("wrong domain");
  });

  it("failNextLoad fails after the given progress", async () => {
    emu.failNextLoad({ message: "Out of memory", atProgress: 0.5 });
    const progress: number[] = [];
    const err = await rejection(client.llm.load(QWEN, { onProgress: (p) => progress.push(p) }));
    expect(err.message).toContain("Out of memory");
    expect(progress).toEqual([0.25, 0.5]);
    expect(emu.loads[0]).toMatchObject({ outcome: "failed", error: "Out of memory" });
    expect(emu.loaded()).toEqual([]);
    // one-shot
    await client.llm.load(QWEN, { verbose: false });
  });
});

describe("cancellation and faults", () => {
  it("cancels a load on AbortSignal", async () => {
    emu.configure({ loadTimeMs: 2000 });
    const ac = new AbortController();
    const p = client.llm.load(QWEN, { signal: ac.signal, verbose: false });
    await emu.waitFor(() => emu.loads.length === 1);
    ac.abort(new Error("user abort"));
    const err = await rejection(p);
    expect(err.message).toBe("user abort");
    await emu.waitFor(() => emu.loads[0]?.outcome === "cancelled");
    expect(emu.loaded()).toEqual([]);
    // the identifier is free again
    emu.configure({ loadTimeMs: 10 });
    expect((await client.llm.load(QWEN, { verbose: false })).identifier).toBe(QWEN);
  });

  it("hangNextLoad never finishes until cancelled", async () => {
    emu.hangNextLoad();
    const ac = new AbortController();
    const p = client.llm.load(QWEN, { signal: ac.signal, verbose: false });
    expect(await Promise.race([p, timeout(200)])).toBe("timeout");
    expect(emu.loads[0]?.outcome).toBe("pending");
    ac.abort(new Error("gave up"));
    await rejection(p);
    await emu.waitFor(() => emu.loads[0]?.outcome === "cancelled");
  });

  it("drops the socket mid-load, and the SDK reconnects on the next call", async () => {
    emu.dropSocketOnNextLoad();
    const err = await rejection(client.llm.load(QWEN, { verbose: false }));
    expect(err.message).toContain("WebSocket connection closed");
    expect(emu.loads[0]?.outcome).toBe("dropped");
    const before = emu.wsConnections;
    expect(await client.llm.listLoaded()).toEqual([]);
    expect(emu.wsConnections).toBe(before + 1);
  });

  it("rejects with 'Failed to authenticate' when auth fails", async () => {
    emu.configure({ authError: "Invalid passkey" });
    const c = newClient();
    const err = await rejection(c.llm.listLoaded());
    expect(err.message).toContain("Failed to authenticate");
    expect(err.message).toContain("Invalid passkey");
  });

  it("leaves calls pending while the websocket is silent", async () => {
    emu.setWsSilent(true);
    const c = newClient();
    const p = c.llm.listLoaded();
    p.catch(() => {});
    expect(await Promise.race([p, timeout(300)])).toBe("timeout");
    emu.setWsSilent(false);
    // Settle the call before disposing: the SDK's dispose waits for pending calls and ignores a
    // close that arrives after dispose started, so it would hang.
    emu.dropAllSockets();
    expect((await rejection(p)).message).toContain("WebSocket connection closed");
    // dropAllSockets also closed the shared client's sockets: let it see that before the next test
    await timeout(50);
  });

  it("keeps state across restart on the same port and the SDK reconnects", async () => {
    await client.llm.load(GEMMA, { verbose: false });
    const port = emu.port;
    await emu.restart();
    expect(emu.port).toBe(port);
    // Let the client see the close first: a close event that arrives after the next call started
    // makes the SDK close its new socket too (an SDK race, not the emulator's).
    await timeout(50);
    const listed = await client.llm.listLoaded();
    expect(listed.map((m) => m.identifier)).toEqual([GEMMA]);
  });
});

describe("raw protocol", () => {
  function rawSession(namespace: string): Promise<{ ws: WebSocket; next: () => Promise<unknown> }> {
    const ws = new WebSocket(`${emu.wsUrl}/${namespace}`);
    const queue: unknown[] = [];
    const waiters: Array<(v: unknown) => void> = [];
    ws.on("message", (d) => {
      const msg = JSON.parse(d.toString());
      const w = waiters.shift();
      if (w) w(msg);
      else queue.push(msg);
    });
    const next = (): Promise<unknown> =>
      queue.length > 0 ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r));
    return new Promise((resolve, reject) => {
      ws.once("error", reject);
      ws.once("open", () => {
        ws.send(JSON.stringify({ authVersion: 1, clientIdentifier: "raw", clientPasskey: "raw" }));
        resolve({ ws, next });
      });
    });
  }

  it("answers keepAlive, unknown endpoints (errors when not mimicking silence) and records communication warnings", async () => {
    emu.configure({ mimicSilenceOnUnknownEndpoint: false });
    const { ws, next } = await rawSession("files");
    expect(await next()).toEqual({ success: true });
    ws.send(JSON.stringify({ type: "keepAlive" }));
    expect(await next()).toEqual({ type: "keepAliveAck" });
    ws.send(JSON.stringify({ type: "rpcCall", endpoint: "listFiles", callId: 0 }));
    expect(await next()).toMatchObject({
      type: "rpcError",
      callId: 0,
      error: { title: expect.stringContaining("Unknown endpoint") },
    });
    ws.send(JSON.stringify({ type: "channelCreate", endpoint: "x", channelId: 1, creationParameter: {} }));
    expect(await next()).toMatchObject({ type: "channelError", channelId: 1 });
    ws.send(JSON.stringify({ type: "communicationWarning", warning: "boom" }));
    await emu.waitFor(() => emu.warnings.length === 1);
    expect(emu.warnings).toEqual(["boom"]);
    emu.warnings.length = 0;
    ws.close();
  });

  it("mimics LM Studio's silence on unknown endpoints by default", async () => {
    const { ws, next } = await rawSession("llm");
    expect(await next()).toEqual({ success: true });
    ws.send(JSON.stringify({ type: "rpcCall", endpoint: "doesNotExist", callId: 0 }));
    expect(await next()).toMatchObject({ type: "communicationWarning" });
    ws.send(JSON.stringify({ type: "rpcCall", endpoint: "listLoaded", callId: 1 }));
    expect(await next()).toEqual({ type: "rpcResult", callId: 1, result: [] });
    ws.close();
  });
});
