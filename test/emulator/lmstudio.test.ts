/**
 * Conformance of the behaviours taken from real LM Studio (profiles, defaults, error texts, name
 * resolution, extra SDK endpoints), driven by the real @lmstudio/sdk and fetch. Sources: README.md.
 */
import { LMStudioClient } from "@lmstudio/sdk-v2";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "./emulator.ts";

const silentLogger = { info() {}, warn() {}, error() {}, debug() {} };
const QWEN = "qwen/qwen3-4b-2507";
const GEMMA = "google/gemma-3-1b";
const NOMIC = "text-embedding-nomic-embed-text-v1.5";
const TOKEN = "sk-lm-abcdEFGH:abcdefghijKLMNOPQRST";

let emu: LmStudioEmulator;
const clients: LMStudioClient[] = [];

function newClient(opts: { apiToken?: string; logger?: typeof silentLogger } = {}): LMStudioClient {
  const c = new LMStudioClient({
    baseUrl: emu.wsUrl,
    logger: opts.logger ?? silentLogger,
    apiToken: opts.apiToken,
  });
  clients.push(c);
  return c;
}

async function rejection(p: Promise<unknown>): Promise<Error & { title?: string }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { title?: string };
  }
  throw new Error("expected a rejection");
}

function timeout(ms: number): Promise<"timeout"> {
  return new Promise((r) => setTimeout(() => r("timeout"), ms));
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${emu.httpUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

const hi = [{ role: "user", content: "hi there" }];

beforeAll(async () => {
  emu = await LmStudioEmulator.start({ loadTimeMs: 10 });
});

beforeEach(() => {
  emu.reset({ loadTimeMs: 10 });
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c[Symbol.asyncDispose]().catch(() => {});
  expect(emu.warnings).toEqual([]);
});

afterAll(async () => {
  await emu.stop();
});

describe("version profiles", () => {
  it("0.4 (default) reports 0.4.21 and sends the SDK 2.0.0 info fields", async () => {
    emu.preload(GEMMA);
    const client = newClient();
    expect(await client.system.getLMStudioVersion()).toEqual({ version: "0.4.21", build: 2 });
    const [info] = await client.llm.listLoaded().then((l) => l.map((m) => m.getModelInfo()));
    expect(await info).toMatchObject({
      deviceIdentifier: null,
      publisher: "google",
      ttlMs: null,
      lastUsedTime: null,
    });
  });

  it("0.3 lacks deviceIdentifier/indexedModelIdentifier: SDK 2.0.0 warns and never resolves", async () => {
    emu.reset({ loadTimeMs: 10, profile: "0.3", preload: [GEMMA] });
    const client = newClient();
    expect(await client.system.getLMStudioVersion()).toEqual({ version: "0.3.31", build: 1 });
    const pending = client.llm.listLoaded();
    pending.catch(() => {});
    expect(await Promise.race([pending, timeout(1000)])).toBe("timeout");
    expect(emu.warnings.length).toBeGreaterThan(0);
    expect(emu.warnings.join("\n")).toMatch(/deviceIdentifier|indexedModelIdentifier/);
    emu.warnings.length = 0;
    emu.dropAllSockets(); // settles the pending call ("WebSocket connection closed")
    await expect(pending).rejects.toThrow();
  });

  it("serves /api/v0/models in both profiles with state loaded / not-loaded", async () => {
    for (const profile of ["0.3", "0.4"] as const) {
      emu.reset({ profile, preload: [GEMMA] });
      const res = await fetch(`${emu.httpUrl}/api/v0/models`);
      const body = (await res.json()) as { object: string; data: Array<Record<string, unknown>> };
      expect(body.object).toBe("list");
      expect(body.data.find((m) => m.id === GEMMA)).toMatchObject({
        object: "model",
        type: "llm",
        publisher: "google",
        compatibility_type: "gguf",
        state: "loaded",
        max_context_length: 32768,
        loaded_context_length: 4096,
      });
      expect(body.data.find((m) => m.id === QWEN)).toMatchObject({
        state: "not-loaded",
        capabilities: ["tool_use"],
      });
      expect(body.data.find((m) => m.id === NOMIC)).toMatchObject({ type: "embeddings" });
      expect(body.data.find((m) => m.id === "qwen3-vl-4b-instruct")).toMatchObject({ type: "vlm" });
      const one = await (await fetch(`${emu.httpUrl}/api/v0/models/${encodeURIComponent(GEMMA)}`)).json();
      expect(one).toMatchObject({ id: GEMMA, state: "loaded" });
    }
  });

  it("serves Anthropic /v1/messages only in the 0.4 profile", async () => {
    emu.reset({ profile: "0.3", preload: [GEMMA] });
    const res = await post("/v1/messages", { model: GEMMA, max_tokens: 10, messages: hi });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      error: "Unexpected endpoint or method. (POST /v1/messages). Returning 200 anyway",
    });
  });
});

describe("LM Studio's defaults", () => {
  it("JIT on, 60-minute TTL, auto-evict of the previous JIT model", async () => {
    const a = await post("/v1/chat/completions", { model: GEMMA, messages: hi });
    expect(a.status).toBe(200);
    expect(emu.loaded()).toEqual([
      { identifier: GEMMA, modelKey: GEMMA, contextLength: 4096, ttlMs: 3_600_000, type: "llm" },
    ]);
    expect(emu.jitLoaded()).toEqual([GEMMA]);
    emu.preload(NOMIC); // not JIT: exempt from auto-evict
    await post("/v1/chat/completions", { model: QWEN, messages: hi, ttl: 30 });
    expect(emu.loaded().map((l) => [l.identifier, l.ttlMs])).toEqual([
      [NOMIC, null],
      [QWEN, 30_000],
    ]);
    expect(emu.evictions).toEqual([GEMMA]);
  });

  it("get-or-load is a JIT load: unloadingOtherJITModel, eviction across namespaces", async () => {
    const logs: string[] = [];
    const logger = {
      info: (...a: unknown[]) => logs.push(a.join(" ")),
      warn() {},
      error() {},
      debug() {},
    };
    const client = newClient({ logger });
    const emb = await client.embedding.model(NOMIC, { ttl: 300 });
    expect(emb.identifier).toBe(NOMIC);
    const llm = await client.llm.model(GEMMA);
    expect(llm.identifier).toBe(GEMMA);
    expect(logs.join("\n")).toContain(`Unloading other JIT model ${NOMIC}`);
    expect(emu.evictions).toEqual([NOMIC]);
    expect(emu.loaded()).toMatchObject([{ identifier: GEMMA, ttlMs: 3_600_000 }]);
    expect(emu.jitLoaded()).toEqual([GEMMA]);
    await expect(emb.getModelInfo()).rejects.toThrow();
  });

  it("autoEvict:false and jitTtlMs:null turn them off", async () => {
    emu.configure({ autoEvict: false, jitTtlMs: null });
    await post("/v1/chat/completions", { model: GEMMA, messages: hi });
    await post("/v1/chat/completions", { model: QWEN, messages: hi });
    expect(emu.loaded().map((l) => [l.identifier, l.ttlMs])).toEqual([
      [GEMMA, null],
      [QWEN, null],
    ]);
  });

  it("runs `parallel` (4) predictions per model and queues the rest", async () => {
    // slow enough that all six arrive while the first four still run, even on a loaded machine
    emu.configure({ chunkDelayMs: 150, reply: "a b c d", preload: [GEMMA] });
    const all = Array.from({ length: 6 }, () => post("/v1/chat/completions", { model: GEMMA, messages: hi }));
    await emu.waitFor(() => emu.chats.length === 6);
    expect(emu.chats.filter((c) => c.queued)).toHaveLength(2);
    expect(
      emu.chats.filter((c) => c.queued).every((c) => c.outcome === "pending" && c.chunksSent === 0),
    ).toBe(true);
    const results = await Promise.all(all);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const firstEnd = Math.min(...emu.chats.map((c) => c.endedAt ?? 0));
    const queuedStart = emu.chats.filter((c) => c.queued).map((c) => c.endedAt ?? 0);
    for (const end of queuedStart) expect(end).toBeGreaterThan(firstEnd);
    emu.configure({ parallel: 1 });
    await Promise.all([1, 2].map(() => post("/v1/chat/completions", { model: GEMMA, messages: hi })));
    expect(emu.chats.slice(6).filter((c) => c.queued)).toHaveLength(1);
  });
});

describe("real error texts and codes", () => {
  it("a taken identifier: 'already exists'; unload of a gone identifier: noModelMatchingQuery", async () => {
    emu.preload(GEMMA);
    const client = newClient();
    const err = await rejection(client.llm.load(QWEN, { identifier: GEMMA, verbose: false }));
    expect(err.message).toMatch(/already exists/);
    const gone = await rejection(client.llm.unload("No such model"));
    expect(gone.title).toBe("No model found that fits the query.");
    const goneEmb = await rejection(client.embedding.unload("No such model"));
    expect(goneEmb.title).toBe("No model found that fits the query.");
  });

  it("WebP data URLs: 400 'url' field must be a base64 encoded image.", async () => {
    emu.preload("qwen3-vl-4b-instruct");
    const webp = [
      {
        role: "user",
        content: [
          { type: "text", text: "what is it" },
          { type: "image_url", image_url: { url: "data:image/webp;base64,UklGRiQAAABXRUJQ" } },
        ],
      },
    ];
    const res = await post("/v1/chat/completions", { model: "qwen3-vl-4b-instruct", messages: webp });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "'url' field must be a base64 encoded image." });
    emu.configure({ rejectWebp: false });
    expect(
      (await post("/v1/chat/completions", { model: "qwen3-vl-4b-instruct", messages: webp })).status,
    ).toBe(200);
  });

  it("errors inside a stream arrive as `event: error` frames", async () => {
    emu.configure({ preload: [GEMMA], reply: "a b c d" });
    emu.failNextChat({ afterChunks: 2, body: { error: { message: "Context overflow" } } });
    const res = await post("/v1/chat/completions", { model: GEMMA, messages: hi, stream: true });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text.endsWith('event: error\ndata: {"error":{"message":"Context overflow"}}\n\n')).toBe(true);
  });

  it("requireToken: HTTP 401 invalid_api_key, websocket auth fails without the token", async () => {
    emu.configure({ requireToken: TOKEN, preload: [GEMMA] });
    const res = await post("/v1/chat/completions", { model: GEMMA, messages: hi });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error).toMatchObject({ type: "invalid_request", code: "invalid_api_key" });
    expect(body.error.message).toContain("Authorization: Bearer $LM_API_TOKEN");
    const ok = await post(
      "/v1/chat/completions",
      { model: GEMMA, messages: hi },
      { authorization: `Bearer ${TOKEN}` },
    );
    expect(ok.status).toBe(200);
    expect((await fetch(`${emu.httpUrl}/lmstudio-greeting`)).status).toBe(200);
    const err = await rejection(newClient().llm.listLoaded());
    expect(err.message).toMatch(/Failed to authenticate/);
    const wrong = await rejection(
      newClient({ apiToken: "sk-lm-abcdEFGH:xxxxxxxxxxxxxxxxxxxx" }).llm.listLoaded(),
    );
    expect(wrong.message).toMatch(/Failed to authenticate/);
    expect((await newClient({ apiToken: TOKEN }).llm.listLoaded()).map((m) => m.identifier)).toEqual([GEMMA]);
  });
});

describe("names the way LM Studio resolves them", () => {
  const PY_MODELS = [
    {
      modelKey: "llama-3.2-1b-instruct",
      publisher: "hugging-quants",
      path: "hugging-quants/Llama-3.2-1B-Instruct-Q8_0-GGUF/llama-3.2-1b-instruct-q8_0.gguf",
      type: "llm" as const,
    },
    {
      modelKey: NOMIC,
      publisher: "nomic-ai",
      path: "nomic-ai/nomic-embed-text-v1.5-GGUF/nomic-embed-text-v1.5.Q4_K_M.gguf",
      type: "embedding" as const,
    },
    {
      modelKey: "qwen/qwen3-4b-2507",
      publisher: "qwen",
      path: "Qwen/Qwen3-4B-2507-GGUF/Qwen3-4B-2507-Q4_K_M.gguf",
    },
  ];

  it("loads publisher/model names, paths and keys, case-insensitively; keeps real paths", async () => {
    emu.reset({ loadTimeMs: 10, models: PY_MODELS });
    const client = newClient();
    const downloaded = await client.system.listDownloadedModels();
    expect(downloaded.find((m) => m.modelKey === "llama-3.2-1b-instruct")?.path).toBe(PY_MODELS[0]?.path);
    const a = await client.llm.load("hugging-quants/llama-3.2-1b-instruct", { verbose: false });
    expect(a.identifier).toBe("llama-3.2-1b-instruct");
    const b = await client.embedding.load("nomic-ai/nomic-embed-text-v1.5", { verbose: false });
    expect(b.identifier).toBe(NOMIC);
    const c = await client.llm.load("Qwen/Qwen3-4B-2507", { verbose: false });
    expect(c.modelKey).toBe("qwen/qwen3-4b-2507");
    const d = await client.llm.load(PY_MODELS[0]?.path ?? "", { verbose: false });
    expect(d.identifier).toBe("llama-3.2-1b-instruct:2");
  });

  it("get-or-load with a key, a publisher/model name or the full path of a loaded model answers it", async () => {
    emu.reset({ loadTimeMs: 10, models: PY_MODELS, preload: ["llama-3.2-1b-instruct"] });
    const client = newClient();
    for (const name of [
      "llama-3.2-1b-instruct",
      "hugging-quants/llama-3.2-1b-instruct",
      PY_MODELS[0]?.path ?? "",
      "LLAMA-3.2-1B-INSTRUCT",
    ]) {
      expect((await client.llm.model(name, { verbose: false })).identifier).toBe("llama-3.2-1b-instruct");
    }
    expect(emu.loads).toEqual([]);
    const byPath = await client.llm
      .model({ path: "hugging-quants/llama-3.2-1b-instruct" } as never)
      .catch(() => null);
    expect(byPath === null || byPath.identifier === "llama-3.2-1b-instruct").toBe(true);
  });

  it("chat `model` matches identifiers, then keys and paths case-insensitively", async () => {
    emu.reset({ loadTimeMs: 10, jit: false, models: PY_MODELS, preload: ["qwen/qwen3-4b-2507"] });
    for (const model of ["qwen/qwen3-4b-2507", "Qwen/Qwen3-4B-2507", "Qwen/Qwen3-4B-2507-GGUF"]) {
      const res = await post("/v1/chat/completions", { model, messages: hi });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { model: string }).model).toBe("qwen/qwen3-4b-2507");
    }
  });
});

describe("extra SDK endpoints", () => {
  it("embedString, tokenize, countTokens, applyPromptTemplate", async () => {
    emu.reset({ loadTimeMs: 10, preload: [GEMMA, NOMIC] });
    const client = newClient();
    const emb = await client.embedding.model(NOMIC);
    const { embedding } = await emb.embed("Once upon a time");
    expect(embedding).toHaveLength(768);
    expect((await emb.embed("Once upon a time")).embedding).toEqual(embedding);
    expect(await emb.countTokens("one two three")).toBe(3);
    const llm = await client.llm.model(GEMMA);
    expect(await llm.tokenize("one two three")).toHaveLength(3);
    expect(await llm.countTokens("one two")).toBe(2);
    const formatted = await llm.applyPromptTemplate([{ role: "user", content: "Hello" }]);
    expect(formatted).toBe("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n");
  });

  it("unknown endpoints: silence plus a communicationWarning, by default", async () => {
    const { default: WebSocket } = await import("ws");
    const ws = new WebSocket(`${emu.wsUrl}/llm`);
    const msgs: unknown[] = [];
    ws.on("message", (d) => msgs.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once("open", r));
    ws.send(JSON.stringify({ authVersion: 1, clientIdentifier: "a", clientPasskey: "b" }));
    ws.send(
      JSON.stringify({
        type: "channelCreate",
        endpoint: "noSuchEndpoint",
        channelId: 1,
        creationParameter: {},
      }),
    );
    await emu.waitFor(() => msgs.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(msgs).toEqual([
      { success: true },
      { type: "communicationWarning", warning: 'Unknown endpoint "noSuchEndpoint" in namespace "llm"' },
    ]);
    ws.close();
  });
});
