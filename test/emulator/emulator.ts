/**
 * LM Studio emulator: one loopback server (node:http + ws in noServer mode) that speaks the
 * @lmstudio/sdk websocket protocol (/llm, /embedding, /system) and LM Studio's HTTP APIs
 * (OpenAI-compatible /v1/*, REST /api/v0/*, Anthropic-compatible /v1/messages in the 0.4 profile).
 * See README.md next to this file (it cites the public source of every behaviour) and
 * test/emulator/lmstudio-protocol.md for the protocol.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import http from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import {
  type CatalogueModel,
  DEFAULT_CATALOGUE,
  HUB_CATALOGUE,
  type ModelType,
  type ResolvedModel,
  resolveModel,
} from "./catalogue.ts";
import {
  countPromptWords,
  countTextWords,
  countWords,
  embeddingOf,
  findImageProblem,
  lastUserText,
  splitTokens,
  tokenIdsOf,
} from "./text.ts";

export type { CatalogueModel } from "./catalogue.ts";
export { DEFAULT_CATALOGUE, HUB_CATALOGUE, parseCatalogue } from "./catalogue.ts";

/** LM Studio versions the emulator can pretend to be. */
export type Profile = "0.3" | "0.4";

/** version and build each profile reports (README: "Version profiles") */
export const PROFILES: Readonly<Record<Profile, { version: string; build: number }>> = {
  "0.3": { version: "0.3.31", build: 1 },
  "0.4": { version: "0.4.21", build: 2 },
};

export interface ChatRecord {
  id: number;
  /** extra: the HTTP path, e.g. "/v1/chat/completions", "/v1/embeddings", "/v1/responses" */
  endpoint: string;
  // biome-ignore lint/suspicious/noExplicitAny: contract: parsed JSON request body as received
  body: any;
  /** extra: the request body bytes exactly as received */
  rawBody: Buffer;
  /** identifier that served, or the requested model if it failed early */
  model: string;
  stream: boolean;
  outcome: "pending" | "finished" | "cancelled" | "failed";
  /** generated chunks written (streaming), or chunks generated (non-streaming) */
  chunksSent: number;
  startedAt: number;
  endedAt?: number;
  status: number;
  authorization?: string;
  /** extra: the request's X-Request-Id header, when it had one (a gateway correlating logs) */
  requestId?: string;
  /** extra: it waited for one of the instance's `parallel` prediction slots */
  queued: boolean;
}

export interface LoadRecord {
  endpoint: "loadModel" | "getOrLoad" | "jit";
  modelKey: string;
  identifier?: string;
  /** ttl as requested (null when none was given; JIT loads then get `jitTtlMs`) */
  ttlMs?: number | null;
  /** context length requested in the load config (undefined when none was given) */
  contextLength?: number;
  outcome: "pending" | "loaded" | "cancelled" | "failed" | "dropped";
  startedAt: number;
  endedAt?: number;
  /** extra: the namespace the load came through ("llm", "embedding", or "http" for jit) */
  namespace?: string;
  /** extra: every load config field sent by the client (all layers) */
  configFields?: Array<{ key: string; value: unknown }>;
  /** extra: error title when outcome is "failed" */
  error?: string;
}

/** A model downloaded through the `repository` namespace (`downloadModel` channel). */
export interface DownloadRecord {
  downloadIdentifier: string;
  modelKey: string;
  outcome: "pending" | "downloaded" | "cancelled" | "dropped" | "failed";
  startedAt: number;
  endedAt?: number;
}

/** extra record: every websocket rpc / channel / signal endpoint received after auth */
export interface CallRecord {
  namespace: string;
  kind: "rpc" | "channel" | "signal";
  endpoint: string;
  parameter: unknown;
  at: number;
}

export interface StatusCodes {
  noModelsLoaded?: number;
  modelNotFound?: number;
  imagesNotSupported?: number;
  invalidImage?: number;
}

export type PreloadSpec =
  | string
  | { modelKey: string; identifier?: string; contextLength?: number; ttlMs?: number };

/** What the model "thinks" before (or instead of) its reply. */
export interface ReasoningOption {
  text: string;
  /** default: "reasoning" for gpt-oss models, "reasoning_content" for the others */
  field?: "reasoning" | "reasoning_content";
}

/** A tool call the model answers with, when the request has `tools`. */
export interface ToolCallOption {
  /** default: the tool named by tool_choice, else the first tool */
  name?: string;
  /** JSON text of the arguments; default "{}" */
  arguments?: string;
}

export interface EmulatorOptions {
  /** 0 (default) = random free port; host is always 127.0.0.1 */
  port?: number;
  /** LM Studio version to emulate: "0.4" (default) or "0.3" (sets `version` unless given) */
  profile?: Profile;
  models?: CatalogueModel[];
  preload?: PreloadSpec[];
  /** JIT loading on HTTP (default true, as in LM Studio) */
  jit?: boolean;
  /** idle TTL of JIT and get-or-load loads that don't name one (default 60 minutes) */
  jitTtlMs?: number | null;
  /** a JIT / get-or-load load first unloads the previous JIT-loaded models (default true) */
  autoEvict?: boolean;
  /** predictions each loaded model runs at once; the rest queue (default 4) */
  parallel?: number;
  // biome-ignore lint/suspicious/noExplicitAny: contract
  reply?: string | ((body: any) => string);
  reasoning?: ReasoningOption | null;
  // biome-ignore lint/suspicious/noExplicitAny: contract
  toolCall?: ToolCallOption | ((body: any) => ToolCallOption | null) | null;
  tokensPerChunk?: number;
  chunkDelayMs?: number;
  firstChunkDelayMs?: number;
  loadTimeMs?: number;
  loadSteps?: number;
  authError?: string | null;
  /** LM Studio API token ("sk-lm-<8>:<20>") required on HTTP and on the websockets (0.4 feature) */
  requireToken?: string | null;
  version?: string;
  build?: number;
  statusCodes?: StatusCodes;
  /** unknown websocket endpoints: communicationWarning and no answer (default true, like LM Studio) */
  mimicSilenceOnUnknownEndpoint?: boolean;
  /** reject data:image/webp URLs as LM Studio 0.3.27–0.4.9 does (default true) */
  rejectWebp?: boolean;
  /** length of the vectors of /v1/embeddings and embedString (default 768, nomic-embed-text-v1.5's) */
  embeddingDimensions?: number;
  /** send a stream's terminating `0\r\n\r\n` in its own packet, this many ms later (true = 5) */
  separateFinalChunk?: boolean | number;
  /** extra: keep at most this many chat records (oldest dropped in halves); default unlimited */
  maxChatRecords?: number;
  /** models LM Studio's catalogue offers for download (`repository` namespace); default HUB_CATALOGUE */
  hub?: CatalogueModel[];
  /** how long a download takes, and in how many progress packets (default 40 ms, 4) */
  downloadTimeMs?: number;
  downloadSteps?: number;
}

export interface LoadedInstance {
  identifier: string;
  modelKey: string;
  contextLength: number;
  ttlMs: number | null;
  type: "llm" | "embedding";
}

interface Knobs {
  profile: Profile;
  jit: boolean;
  jitTtlMs: number | null;
  autoEvict: boolean;
  parallel: number;
  // biome-ignore lint/suspicious/noExplicitAny: contract
  reply: string | ((body: any) => string) | undefined;
  reasoning: ReasoningOption | null;
  // biome-ignore lint/suspicious/noExplicitAny: contract
  toolCall: ToolCallOption | ((body: any) => ToolCallOption | null) | null;
  tokensPerChunk: number;
  chunkDelayMs: number;
  firstChunkDelayMs: number;
  loadTimeMs: number;
  loadSteps: number;
  authError: string | null;
  requireToken: string | null;
  version: string;
  build: number;
  statusCodes: Required<StatusCodes>;
  mimicSilenceOnUnknownEndpoint: boolean;
  rejectWebp: boolean;
  embeddingDimensions: number;
  separateFinalChunkMs: number;
  maxChatRecords: number;
  downloadTimeMs: number;
  downloadSteps: number;
}

function defaultKnobs(): Knobs {
  return {
    profile: "0.4",
    jit: true,
    jitTtlMs: 3_600_000,
    autoEvict: true,
    parallel: 4,
    reply: undefined,
    reasoning: null,
    toolCall: null,
    tokensPerChunk: 1,
    chunkDelayMs: 0,
    firstChunkDelayMs: 0,
    loadTimeMs: 40,
    loadSteps: 4,
    authError: null,
    requireToken: null,
    version: PROFILES["0.4"].version,
    build: PROFILES["0.4"].build,
    statusCodes: { noModelsLoaded: 400, modelNotFound: 400, imagesNotSupported: 400, invalidImage: 400 },
    mimicSilenceOnUnknownEndpoint: true,
    rejectWebp: true,
    embeddingDimensions: 768,
    separateFinalChunkMs: 0,
    maxChatRecords: Number.POSITIVE_INFINITY,
    downloadTimeMs: 40,
    downloadSteps: 4,
  };
}

interface Waiter {
  ctx: ChatCtx;
  start: () => void;
}

interface Instance {
  identifier: string;
  model: ResolvedModel;
  contextLength: number;
  ttlMs: number | null;
  instanceReference: string;
  lastUsedTime: number | null;
  ttlTimer: NodeJS.Timeout | undefined;
  jit: boolean;
  /** predictions running */
  active: number;
  /** predictions waiting for a slot */
  waiters: Waiter[];
}

type LoadFault =
  | { kind: "fail"; message: string; atProgress: number }
  | { kind: "hang" }
  | { kind: "drop" }
  | null;

type ChatFault =
  | { kind: "fail"; status: number; body: unknown; afterChunks: number | undefined; mode: "error" | "drop" }
  | { kind: "hang" }
  | null;

interface ChannelState {
  endpoint: string;
  timer: NodeJS.Timeout | undefined;
  onCancel: (() => void) | undefined;
  onSocketClose: (() => void) | undefined;
}

interface Session {
  ws: WebSocket;
  namespace: string;
  authed: boolean;
  closed: boolean;
  channels: Map<number, ChannelState>;
}

interface SerializedError {
  title: string;
  rootTitle: string;
  displayData?: Record<string, unknown>;
}

class LmsError extends Error {
  serialized: SerializedError;
  constructor(title: string, displayData?: Record<string, unknown>) {
    super(title);
    this.serialized = { title, rootTitle: title };
    if (displayData !== undefined) this.serialized.displayData = displayData;
  }
}

interface ChatCtx {
  rec: ChatRecord;
  res: ServerResponse;
  done: boolean;
  timer: NodeJS.Timeout | undefined;
  immediate: NodeJS.Immediate | undefined;
  /** the instance whose prediction slot this request holds */
  slot: Instance | undefined;
  /** the instance whose queue this request waits in */
  waitingOn: Instance | undefined;
}

/** A prepared answer: the SSE frames of a stream, or the JSON body of a plain answer. */
interface Generation {
  /** stream: written right after the headers */
  prelude: string;
  /** stream: one frame per generated chunk */
  frames: string[];
  /** stream: written after the last frame */
  ending: string;
  /** non-streaming: the 200 body */
  body: string;
  /** stream: how an error inside the stream is framed */
  errorFrame: (body: unknown) => string;
}

type HttpEndpoint = "chat" | "completions" | "responses" | "messages" | "embeddings";

const SSE_HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache",
  Connection: "keep-alive",
};
const NO_MODELS_MESSAGE =
  "No models loaded. Please load a model in the developer page or use the 'lms load' command.";
const IMAGES_NOT_SUPPORTED = '{"error":"Model does not support images. Please use a model that does."}';
const INVALID_IMAGE = `{"error":"'url' field must be a base64 encoded image."}`;
const TOKEN_REQUIRED_MESSAGE =
  "An LM Studio API token is required to make requests to this server, but none was provided using the Authorization header using the 'Bearer' scheme (i.e., 'Authorization: Bearer $LM_API_TOKEN'). Learn more at: https://lmstudio.ai/docs/developer/core/authentication.";
const TOKEN_INVALID_MESSAGE =
  "The provided LM Studio API token is invalid. Learn more at: https://lmstudio.ai/docs/developer/core/authentication.";
const TOKEN_FORMAT = /^sk-lm-([a-zA-Z0-9]{8}):([a-zA-Z0-9]{20})$/;
const DONE_FRAME = "data: [DONE]\n\n";
/** content chunks per write when chunkDelayMs is 0 */
const BATCH = 64;
const SAMPLE = 10;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** `event: <name>` + `data: <json>` (the Responses and Anthropic APIs, and stream errors) */
function namedEvent(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}

/** Collects every field of a kvConfigStack ({layers:[{layerName, config:{fields}}]}). */
function configFields(stack: unknown): Array<{ key: string; value: unknown }> {
  const out: Array<{ key: string; value: unknown }> = [];
  if (!isObject(stack) || !Array.isArray(stack.layers)) return out;
  for (const layer of stack.layers) {
    if (!isObject(layer) || !isObject(layer.config) || !Array.isArray(layer.config.fields)) continue;
    for (const f of layer.config.fields) {
      if (isObject(f) && typeof f.key === "string") out.push({ key: f.key, value: f.value });
    }
  }
  return out;
}

/** Splits a string into pieces of at most `n` characters (streamed tool-call arguments). */
function slices(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class LmStudioEmulator {
  private portValue = 0;
  get port(): number {
    return this.portValue;
  }
  /** "http://127.0.0.1:<port>" */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.portValue}`;
  }
  /** "http://127.0.0.1:<port>/v1" */
  get openaiBaseUrl(): string {
    return `http://127.0.0.1:${this.portValue}/v1`;
  }
  /** the LM Studio version reported (the profile's, unless `version` was given) */
  get version(): string {
    return this.knobs.version;
  }
  /** "ws://127.0.0.1:<port>" (no trailing slash: the SDK rejects it) */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.portValue}`;
  }

  /** every generation / embedding request received over HTTP (see `endpoint`) */
  readonly chats: ChatRecord[] = [];
  readonly loads: LoadRecord[] = [];
  readonly unloads: string[] = [];
  /** downloads through the `repository` namespace */
  readonly downloads: DownloadRecord[] = [];
  /** extra: identifiers unloaded by JIT auto-evict */
  readonly evictions: string[] = [];
  readonly warnings: string[] = [];
  /** extra: every websocket endpoint call received (after auth) */
  readonly calls: CallRecord[] = [];
  private wsConnectionCount = 0;
  private httpConnectionCount = 0;
  /** websocket connections accepted so far */
  get wsConnections(): number {
    return this.wsConnectionCount;
  }
  /** TCP connections accepted so far (HTTP keep-alive reuse counts once; websockets count too) */
  get httpConnections(): number {
    return this.httpConnectionCount;
  }

  private knobs: Knobs = defaultKnobs();
  private catalogue = new Map<string, ResolvedModel>();
  /** what the `repository` namespace can download, by model key */
  private hub = new Map<string, CatalogueModel>();
  private readonly instances = new Map<string, Instance>();
  private readonly reserved = new Set<string>();
  private loadFault: LoadFault = null;
  private chatFault: ChatFault = null;
  private downloadFault: string | null = null;
  private wsSilent = false;
  private chatCounter = 0;
  private refCounter = 0;
  private readonly idPrefix = Math.random().toString(36).slice(2, 8);
  private server: http.Server | undefined;
  private wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Session>();
  private readonly activeChats = new Set<ChatCtx>();
  private readonly tokenCache = new Map<string, string[]>();
  private droppingAll = false;

  private constructor() {}

  static async start(opts: EmulatorOptions = {}): Promise<LmStudioEmulator> {
    const emu = new LmStudioEmulator();
    emu.applyOptions(opts, true);
    await emu.listen(opts.port ?? 0);
    return emu;
  }

  // ---------------------------------------------------------------- lifecycle

  private listen(port: number): Promise<void> {
    const server = http.createServer({ noDelay: true, keepAlive: true }, this.onRequest);
    server.keepAliveTimeout = 60_000;
    server.on("connection", (socket: Socket) => {
      this.httpConnectionCount++;
      socket.setNoDelay(true);
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    server.on("upgrade", this.onUpgrade);
    server.on("clientError", (_err, socket) => socket.destroy());
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        const addr = server.address();
        this.portValue = typeof addr === "object" && addr !== null ? addr.port : port;
        resolve();
      });
    });
  }

  private async closeServer(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropAllSockets();
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async restart(): Promise<void> {
    await this.closeServer();
    // stop() closed the websocket server for good; a restart after it needs a new one.
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    await this.listen(this.port);
  }

  async stop(): Promise<void> {
    await this.closeServer();
    for (const inst of this.instances.values()) clearTimeout(inst.ttlTimer);
    this.wss.close();
  }

  dropAllSockets(): void {
    this.droppingAll = true;
    try {
      for (const ctx of [...this.activeChats]) this.endChat(ctx, "failed");
      for (const s of [...this.sessions]) s.ws.terminate();
      for (const socket of [...this.sockets]) socket.destroy();
    } finally {
      this.droppingAll = false;
    }
  }

  // ---------------------------------------------------------------- knobs

  private applyOptions(opts: EmulatorOptions, full: boolean): void {
    const k = this.knobs;
    if (opts.profile !== undefined) {
      if (!(opts.profile in PROFILES)) throw new Error(`unknown profile ${opts.profile} (0.3 or 0.4)`);
      k.profile = opts.profile;
      k.version = PROFILES[opts.profile].version;
      k.build = PROFILES[opts.profile].build;
    }
    if (opts.jit !== undefined) k.jit = opts.jit;
    if (opts.jitTtlMs !== undefined) k.jitTtlMs = opts.jitTtlMs;
    if (opts.autoEvict !== undefined) k.autoEvict = opts.autoEvict;
    if (opts.parallel !== undefined) k.parallel = Math.max(1, Math.floor(opts.parallel));
    if ("reply" in opts) k.reply = opts.reply;
    if (opts.reasoning !== undefined) k.reasoning = opts.reasoning;
    if (opts.toolCall !== undefined) k.toolCall = opts.toolCall;
    if (opts.tokensPerChunk !== undefined) k.tokensPerChunk = Math.max(1, Math.floor(opts.tokensPerChunk));
    if (opts.chunkDelayMs !== undefined) k.chunkDelayMs = Math.max(0, opts.chunkDelayMs);
    if (opts.firstChunkDelayMs !== undefined) k.firstChunkDelayMs = Math.max(0, opts.firstChunkDelayMs);
    if (opts.loadTimeMs !== undefined) k.loadTimeMs = Math.max(0, opts.loadTimeMs);
    if (opts.loadSteps !== undefined) k.loadSteps = Math.max(1, Math.floor(opts.loadSteps));
    if (opts.authError !== undefined) k.authError = opts.authError;
    if (opts.requireToken !== undefined) {
      if (opts.requireToken !== null && !TOKEN_FORMAT.test(opts.requireToken)) {
        throw new Error("requireToken must look like an LM Studio API token: sk-lm-<8 alnum>:<20 alnum>");
      }
      k.requireToken = opts.requireToken;
    }
    if (opts.version !== undefined) k.version = opts.version;
    if (opts.build !== undefined) k.build = opts.build;
    if (opts.statusCodes !== undefined) k.statusCodes = { ...k.statusCodes, ...opts.statusCodes };
    if (opts.mimicSilenceOnUnknownEndpoint !== undefined)
      k.mimicSilenceOnUnknownEndpoint = opts.mimicSilenceOnUnknownEndpoint;
    if (opts.rejectWebp !== undefined) k.rejectWebp = opts.rejectWebp;
    if (opts.embeddingDimensions !== undefined)
      k.embeddingDimensions = Math.max(1, Math.floor(opts.embeddingDimensions));
    if (opts.separateFinalChunk !== undefined) {
      const v = opts.separateFinalChunk;
      k.separateFinalChunkMs = v === true ? 5 : v === false ? 0 : Math.max(0, v);
    }
    if (opts.maxChatRecords !== undefined) k.maxChatRecords = Math.max(1, opts.maxChatRecords);
    if (opts.downloadTimeMs !== undefined) k.downloadTimeMs = Math.max(0, opts.downloadTimeMs);
    if (opts.downloadSteps !== undefined) k.downloadSteps = Math.max(1, Math.floor(opts.downloadSteps));
    if (opts.hub !== undefined || (full && this.hub.size === 0)) {
      this.hub.clear();
      for (const m of opts.hub ?? [...DEFAULT_CATALOGUE, ...HUB_CATALOGUE]) this.hub.set(m.modelKey, m);
    }
    if (opts.models !== undefined || (full && this.catalogue.size === 0)) {
      this.catalogue.clear();
      for (const m of opts.models ?? DEFAULT_CATALOGUE) {
        const r = resolveModel(m);
        this.catalogue.set(r.modelKey, r);
      }
    }
    if (full && opts.preload !== undefined) {
      for (const p of opts.preload) {
        if (typeof p === "string") this.preload(p);
        else this.preload(p.modelKey, p);
      }
    }
  }

  /** Changes knobs at runtime (everything but port; `models` replaces the catalogue, `preload` loads). */
  configure(patch: Partial<EmulatorOptions>): void {
    this.applyOptions(patch, false);
    if (patch.preload !== undefined) {
      for (const p of patch.preload) {
        if (typeof p === "string") this.preload(p);
        else this.preload(p.modelKey, p);
      }
    }
  }

  failNextLoad(opts: { message?: string; atProgress?: number } = {}): void {
    this.loadFault = {
      kind: "fail",
      message: opts.message ?? "Failed to load model",
      atProgress: opts.atProgress ?? 0,
    };
  }

  hangNextLoad(): void {
    this.loadFault = { kind: "hang" };
  }

  dropSocketOnNextLoad(): void {
    this.loadFault = { kind: "drop" };
  }

  /** The next generation request (any HTTP generation or embedding endpoint) fails. */
  failNextChat(opts: {
    status?: number;
    body?: unknown;
    afterChunks?: number;
    mode?: "error" | "drop";
  }): void {
    this.chatFault = {
      kind: "fail",
      status: opts.status ?? 500,
      body: opts.body ?? { error: "Internal error" },
      afterChunks: opts.afterChunks,
      mode: opts.mode ?? "error",
    };
  }

  /** The next download fails with a channelError `message` once it is half done. */
  failNextDownload(message = "Download failed: connection reset"): void {
    this.downloadFault = message;
  }

  hangNextChat(): void {
    this.chatFault = { kind: "hang" };
  }

  setWsSilent(silent: boolean): void {
    this.wsSilent = silent;
  }

  reset(opts: EmulatorOptions = {}): void {
    this.chats.length = 0;
    this.loads.length = 0;
    this.unloads.length = 0;
    this.downloads.length = 0;
    this.hub.clear();
    this.evictions.length = 0;
    this.warnings.length = 0;
    this.calls.length = 0;
    this.wsConnectionCount = 0;
    this.httpConnectionCount = 0;
    this.unloadAll();
    this.loadFault = null;
    this.chatFault = null;
    this.downloadFault = null;
    this.wsSilent = false;
    this.knobs = defaultKnobs();
    this.catalogue.clear();
    this.tokenCache.clear();
    this.applyOptions(opts, true);
  }

  async waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate()) {
      if (performance.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
      await sleep(2);
    }
  }

  // ---------------------------------------------------------------- model state

  loaded(): LoadedInstance[] {
    return [...this.instances.values()].map((i) => ({
      identifier: i.identifier,
      modelKey: i.model.modelKey,
      contextLength: i.contextLength,
      ttlMs: i.ttlMs,
      type: i.model.type,
    }));
  }

  /** extra: identifiers of the instances loaded by JIT or get-or-load (subject to auto-evict) */
  jitLoaded(): string[] {
    return [...this.instances.values()].filter((i) => i.jit).map((i) => i.identifier);
  }

  preload(
    modelKey: string,
    opts: { identifier?: string; contextLength?: number; ttlMs?: number } = {},
  ): string {
    const model = this.findModel(modelKey);
    if (model === undefined) throw new Error(`Emulator catalogue has no model "${modelKey}"`);
    if (opts.identifier !== undefined && this.identifierTaken(opts.identifier)) {
      throw new Error(this.identifierTakenText(opts.identifier));
    }
    const identifier = opts.identifier ?? this.defaultIdentifier(model.modelKey);
    this.addInstance(model, identifier, opts.contextLength, opts.ttlMs ?? null, false);
    return identifier;
  }

  unloadAll(): void {
    for (const inst of this.instances.values()) clearTimeout(inst.ttlTimer);
    this.instances.clear();
  }

  /**
   * Resolves a name the way LM Studio does for loads, get-or-load and JIT: the model key, then the
   * path, then `publisher/model` as a prefix of the path, all case-insensitive (lmstudio-python's
   * tests load "hugging-quants/llama-3.2-1b-instruct", whose path is
   * "hugging-quants/Llama-3.2-1B-Instruct-Q8_0-GGUF/…").
   */
  private findModels(name: string, type?: ModelType): ResolvedModel[] {
    const all = [...this.catalogue.values()].filter((m) => type === undefined || m.type === type);
    const direct = this.catalogue.get(name);
    if (direct !== undefined && (type === undefined || direct.type === type)) return [direct];
    const lower = name.toLowerCase();
    const stages: Array<(m: ResolvedModel) => boolean> = [
      (m) => m.modelKey.toLowerCase() === lower,
      (m) => m.path.toLowerCase() === lower,
      (m) => `${m.publisher}/${m.modelKey}`.toLowerCase() === lower,
      (m) => lower.includes("/") && m.path.toLowerCase().startsWith(lower),
    ];
    for (const stage of stages) {
      const found = all.filter(stage);
      if (found.length > 0) return found;
    }
    return [];
  }

  private findModel(name: string, type?: ModelType): ResolvedModel | undefined {
    return this.findModels(name, type)[0];
  }

  private identifierTaken(id: string): boolean {
    return this.instances.has(id) || this.reserved.has(id);
  }

  private identifierTakenText(id: string): string {
    // lmstudio-python's test_load_duplicate_* expects "Model load error.*already exists"; "Model load
    // error" is the Python SDK's own prefix, the server's part contains "already exists".
    return `A model with the identifier "${id}" already exists`;
  }

  private defaultIdentifier(modelKey: string): string {
    if (!this.identifierTaken(modelKey)) return modelKey;
    for (let n = 2; ; n++) {
      const id = `${modelKey}:${n}`;
      if (!this.identifierTaken(id)) return id;
    }
  }

  private addInstance(
    model: ResolvedModel,
    identifier: string,
    contextLength: number | undefined,
    ttlMs: number | null,
    jit: boolean,
  ): Instance {
    const inst: Instance = {
      identifier,
      model,
      contextLength: contextLength ?? model.defaultContextLength,
      ttlMs,
      instanceReference: `inst-${this.idPrefix}-${++this.refCounter}`,
      lastUsedTime: null,
      ttlTimer: undefined,
      jit,
      active: 0,
      waiters: [],
    };
    // setTimeout overflows past 2^31-1 ms (~24.8 days) and would fire at once: such a TTL never ends here.
    if (ttlMs !== null && ttlMs > 0 && ttlMs <= MAX_TIMER_MS) {
      inst.ttlTimer = setTimeout(() => {
        if (this.instances.get(identifier) === inst) this.instances.delete(identifier);
      }, ttlMs);
      inst.ttlTimer.unref();
    }
    this.instances.set(identifier, inst);
    return inst;
  }

  /** Auto-evict: a new JIT load first unloads the previous JIT-loaded instances (all namespaces). */
  private evictJitModels(): Instance[] {
    if (!this.knobs.autoEvict) return [];
    const evicted: Instance[] = [];
    for (const inst of [...this.instances.values()]) {
      if (!inst.jit) continue;
      clearTimeout(inst.ttlTimer);
      this.instances.delete(inst.identifier);
      this.evictions.push(inst.identifier);
      evicted.push(inst);
    }
    return evicted;
  }

  private touch(inst: Instance): void {
    inst.lastUsedTime = Date.now();
    inst.ttlTimer?.refresh();
  }

  /** The info object as this profile's LM Studio sends it (0.3 lacks the 2026 fields). */
  private modelInfo(model: ResolvedModel): Record<string, unknown> {
    if (this.knobs.profile === "0.4") return model.info;
    const { deviceIdentifier: _d, indexedModelIdentifier: _i, ...rest } = model.info;
    return rest;
  }

  private instanceInfo(inst: Instance): Record<string, unknown> {
    return {
      ...this.modelInfo(inst.model),
      identifier: inst.identifier,
      instanceReference: inst.instanceReference,
      ttlMs: inst.ttlMs,
      lastUsedTime: inst.lastUsedTime,
      contextLength: inst.contextLength,
    };
  }

  private instancesOf(type: ModelType): Instance[] {
    const out: Instance[] = [];
    for (const i of this.instances.values()) if (i.model.type === type) out.push(i);
    return out;
  }

  // ---------------------------------------------------------------- websocket side

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const namespace = (q >= 0 ? url.slice(0, q) : url).replace(/^\/+|\/+$/g, "");
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onWs(ws, namespace));
  };

  private onWs(ws: WebSocket, namespace: string): void {
    this.wsConnectionCount++;
    const session: Session = { ws, namespace, authed: false, closed: false, channels: new Map() };
    this.sessions.add(session);
    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (this.wsSilent || isBinary) return;
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (!isObject(msg)) return;
      if (!session.authed) this.onAuth(session, msg);
      else this.onWsMessage(session, msg);
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      session.closed = true;
      this.sessions.delete(session);
      for (const ch of session.channels.values()) {
        clearTimeout(ch.timer);
        ch.onSocketClose?.();
      }
      session.channels.clear();
    });
  }

  private send(session: Session, msg: unknown): void {
    if (session.closed || session.ws.readyState !== 1) return;
    session.ws.send(JSON.stringify(msg));
  }

  private onAuth(session: Session, msg: Record<string, unknown>): void {
    const fail = (error: string): void => {
      this.send(session, { success: false, error });
      session.ws.close();
    };
    const authError = this.knobs.authError;
    if (authError !== null) {
      fail(authError);
      return;
    }
    if (
      msg.authVersion !== 1 ||
      typeof msg.clientIdentifier !== "string" ||
      typeof msg.clientPasskey !== "string"
    ) {
      fail("Invalid authentication packet");
      return;
    }
    const token = this.knobs.requireToken;
    if (token !== null) {
      // SDK 2.0 splits an apiToken "sk-lm-<id>:<passkey>" into clientIdentifier / clientPasskey
      const m = TOKEN_FORMAT.exec(token);
      if (m === null || msg.clientIdentifier !== m[1] || msg.clientPasskey !== m[2]) {
        fail("Invalid passkey");
        return;
      }
    }
    session.authed = true;
    this.send(session, { success: true });
  }

  private unknownEndpoint(
    session: Session,
    endpoint: string,
    answer: (error: SerializedError) => void,
  ): void {
    const text = `Unknown endpoint "${endpoint}" in namespace "${session.namespace}"`;
    if (this.knobs.mimicSilenceOnUnknownEndpoint) {
      this.send(session, { type: "communicationWarning", warning: text });
      return;
    }
    answer(new LmsError(text).serialized);
  }

  private onWsMessage(session: Session, msg: Record<string, unknown>): void {
    switch (msg.type) {
      case "rpcCall": {
        const callId = msg.callId;
        const endpoint = String(msg.endpoint);
        this.calls.push({
          namespace: session.namespace,
          kind: "rpc",
          endpoint,
          parameter: msg.parameter,
          at: performance.now(),
        });
        let result: unknown;
        try {
          result = this.handleRpc(session, endpoint, msg.parameter);
        } catch (err) {
          if (err instanceof UnknownEndpoint) {
            this.unknownEndpoint(session, endpoint, (error) =>
              this.send(session, { type: "rpcError", callId, error }),
            );
            return;
          }
          const error = err instanceof LmsError ? err.serialized : new LmsError(String(err)).serialized;
          this.send(session, { type: "rpcError", callId, error });
          return;
        }
        if (result === undefined) this.send(session, { type: "rpcResult", callId });
        else this.send(session, { type: "rpcResult", callId, result });
        return;
      }
      case "channelCreate": {
        const channelId = Number(msg.channelId);
        const endpoint = String(msg.endpoint);
        this.calls.push({
          namespace: session.namespace,
          kind: "channel",
          endpoint,
          parameter: msg.creationParameter,
          at: performance.now(),
        });
        this.handleChannelCreate(session, channelId, endpoint, msg.creationParameter);
        return;
      }
      case "channelSend": {
        const channelId = Number(msg.channelId);
        if (msg.ackId !== undefined) this.send(session, { type: "channelAck", channelId, ackId: msg.ackId });
        const ch = session.channels.get(channelId);
        if (ch !== undefined && isObject(msg.message) && msg.message.type === "cancel") ch.onCancel?.();
        return;
      }
      case "signalSubscribe":
      case "writableSignalSubscribe": {
        const endpoint = String(msg.endpoint);
        this.calls.push({
          namespace: session.namespace,
          kind: "signal",
          endpoint,
          parameter: msg.creationParameter,
          at: performance.now(),
        });
        this.unknownEndpoint(session, endpoint, (error) =>
          this.send(session, {
            type: msg.type === "signalSubscribe" ? "signalError" : "writableSignalError",
            subscribeId: msg.subscribeId,
            error,
          }),
        );
        return;
      }
      case "communicationWarning":
        this.warnings.push(typeof msg.warning === "string" ? msg.warning : JSON.stringify(msg.warning));
        return;
      case "keepAlive":
        this.send(session, { type: "keepAliveAck" });
        return;
      default:
        return;
    }
  }

  private domainOf(session: Session): ModelType | undefined {
    if (session.namespace === "llm") return "llm";
    if (session.namespace === "embedding") return "embedding";
    return undefined;
  }

  private handleRpc(session: Session, endpoint: string, param: unknown): unknown {
    const ns = session.namespace;
    if (ns === "system") {
      switch (endpoint) {
        case "listDownloadedModels":
          return [...this.catalogue.values()].map((m) => this.modelInfo(m));
        case "listDownloadedModelVariants": {
          const key = isObject(param) ? String(param.modelKey) : "";
          const m = this.findModel(key);
          if (m === undefined) throw this.pathNotFound(key, undefined);
          return [this.modelInfo(m)];
        }
        case "version":
          return { version: this.knobs.version, build: this.knobs.build };
        case "notify":
          return undefined;
      }
      throw new UnknownEndpoint(endpoint, ns);
    }
    if (ns === "repository") return this.handleRepositoryRpc(endpoint, param);
    const domain = this.domainOf(session);
    if (domain === undefined) throw new UnknownEndpoint(endpoint, ns);
    const p = isObject(param) ? param : {};
    switch (endpoint) {
      case "listLoaded":
        return this.instancesOf(domain).map((i) => this.instanceInfo(i));
      case "unloadModel": {
        const identifier = String(p.identifier);
        const inst = this.instances.get(identifier);
        if (inst === undefined || inst.model.type !== domain) throw this.noModelToUnload(identifier, domain);
        clearTimeout(inst.ttlTimer);
        this.instances.delete(identifier);
        this.unloads.push(identifier);
        return undefined;
      }
      case "getModelInfo": {
        const inst = this.resolveSpecifier(domain, p.specifier, p.throwIfNotFound === true);
        return inst === undefined ? undefined : this.instanceInfo(inst);
      }
      case "getLoadConfig": {
        const inst = this.resolveSpecifier(domain, p.specifier, true);
        if (inst === undefined) return { fields: [] };
        return { fields: [{ key: `${domain}.load.contextLength`, value: inst.contextLength }] };
      }
      case "getBasePredictionConfig": {
        this.resolveSpecifier(domain, p.specifier, true);
        return { fields: [] };
      }
      case "tokenize": {
        const inst = this.resolveSpecifier(domain, p.specifier, true);
        if (inst !== undefined) this.touch(inst);
        return { tokens: tokenIdsOf(String(p.inputString ?? "")) };
      }
      case "countTokens": {
        const inst = this.resolveSpecifier(domain, p.specifier, true);
        if (inst !== undefined) this.touch(inst);
        return { tokenCount: countWords(String(p.inputString ?? "")) };
      }
      case "embedString": {
        if (domain !== "embedding") break;
        const inst = this.resolveSpecifier(domain, p.modelSpecifier, true);
        if (inst !== undefined) this.touch(inst);
        return { embedding: embeddingOf(String(p.inputString ?? ""), this.knobs.embeddingDimensions) };
      }
      case "applyPromptTemplate": {
        if (domain !== "llm") break;
        this.resolveSpecifier(domain, p.specifier, true);
        return { formatted: formatChatML(p.history) };
      }
    }
    throw new UnknownEndpoint(endpoint, ns);
  }

  private resolveSpecifier(domain: ModelType, spec: unknown, throwIfNotFound: boolean): Instance | undefined {
    if (isObject(spec) && spec.type === "instanceReference") {
      for (const i of this.instances.values()) {
        if (i.instanceReference === spec.instanceReference && i.model.type === domain) return i;
      }
      if (throwIfNotFound) {
        throw new LmsError("This model has already been unloaded", { code: "generic.specificModelUnloaded" });
      }
      return undefined;
    }
    const query = isObject(spec) && isObject(spec.query) ? spec.query : {};
    const candidates = this.instancesOf(domain);
    // ModelQuery.path: "<publisher>/<repo>[/model_file]", any quantization matches (lmstudio-js ModelSpecifier.ts)
    const pathMatches = (i: Instance, path: string): boolean =>
      this.findModels(path, domain).some((m) => m === i.model);
    const found =
      query.domain !== undefined && query.domain !== domain
        ? undefined
        : candidates.find(
            (i) =>
              (query.identifier === undefined || i.identifier === query.identifier) &&
              (query.path === undefined || pathMatches(i, String(query.path))) &&
              (query.vision === undefined || i.model.vision === query.vision),
          );
    if (found === undefined && throwIfNotFound) throw this.noModelMatchingQuery(query, domain);
    return found;
  }

  private noModelMatchingQuery(query: Record<string, unknown>, domain: ModelType): LmsError {
    const candidates = this.instancesOf(domain);
    return new LmsError("No loaded model satisfies all requirements specified in the query.", {
      code: "generic.noModelMatchingQuery",
      query,
      loadedModelsSample: candidates.slice(0, SAMPLE).map((i) => i.identifier),
      totalLoadedModels: candidates.length,
    });
  }

  /** Unload of an identifier that is not loaded: model-not-found (lmstudio-python test_invalid_unload_request). */
  private noModelToUnload(identifier: string, domain: ModelType): LmsError {
    const loaded = this.instancesOf(domain);
    return new LmsError("No model found that fits the query.", {
      code: "generic.noModelMatchingQuery",
      query: { identifier },
      loadedModelsSample: loaded.slice(0, SAMPLE).map((i) => i.identifier),
      totalLoadedModels: loaded.length,
    });
  }

  private pathNotFound(path: string, domain: ModelType | undefined): LmsError {
    const avail = [...this.catalogue.values()].filter((m) => domain === undefined || m.type === domain);
    return new LmsError(`Cannot find a model with path "${path}"`, {
      code: "generic.pathNotFound",
      path,
      availablePathsSample: avail.slice(0, SAMPLE).map((m) => m.modelKey),
      totalModels: avail.length,
    });
  }

  private domainMismatch(path: string, actual: ModelType, expected: ModelType): LmsError {
    return new LmsError(`Model "${path}" is a ${actual} model, not a ${expected} model`, {
      code: "generic.domainMismatch",
      path,
      actualDomain: actual,
      expectedDomain: expected,
    });
  }

  private channelError(session: Session, channelId: number, err: unknown): void {
    session.channels.delete(channelId);
    const error = err instanceof LmsError ? err.serialized : new LmsError(String(err)).serialized;
    this.send(session, { type: "channelError", channelId, error });
  }

  /** A loaded instance that a get-or-load name designates: identifier, then model key / path. */
  private findLoadedByName(name: string): Instance | undefined {
    const byId = this.instances.get(name);
    if (byId !== undefined) return byId;
    const models = this.findModels(name);
    for (const m of models) {
      for (const i of this.instances.values()) if (i.model === m) return i;
    }
    return undefined;
  }

  private handleChannelCreate(session: Session, channelId: number, endpoint: string, param: unknown): void {
    const domain = this.domainOf(session);
    const p = isObject(param) ? param : {};
    const known =
      (domain !== undefined && (endpoint === "loadModel" || endpoint === "getOrLoad")) ||
      (session.namespace === "system" && endpoint === "alive") ||
      (session.namespace === "repository" && endpoint === "downloadModel");
    if (!known) {
      this.unknownEndpoint(session, endpoint, (error) =>
        this.send(session, { type: "channelError", channelId, error }),
      );
      return;
    }
    const ch: ChannelState = { endpoint, timer: undefined, onCancel: undefined, onSocketClose: undefined };
    session.channels.set(channelId, ch);
    if (endpoint === "downloadModel") {
      this.runDownload(session, channelId, ch, String(p.downloadIdentifier));
      return;
    }
    if (domain === undefined) return; // "alive": stays open until the socket closes
    const fields = configFields(p.loadConfigStack);
    const ctxField = fields.find((f) => f.key.endsWith(".contextLength"));
    const contextLength = typeof ctxField?.value === "number" ? ctxField.value : undefined;

    if (endpoint === "getOrLoad") {
      const key = String(p.identifier);
      const ttlMs = typeof p.loadTtlMs === "number" ? p.loadTtlMs : null;
      const hit = this.findLoadedByName(key);
      if (hit !== undefined) {
        if (hit.model.type !== domain) {
          this.channelError(session, channelId, this.domainMismatch(key, hit.model.type, domain));
          return;
        }
        this.touch(hit);
        this.send(session, {
          type: "channelSend",
          channelId,
          message: { type: "alreadyLoaded", info: this.instanceInfo(hit) },
        });
        session.channels.delete(channelId);
        this.send(session, { type: "channelClose", channelId });
        return;
      }
      const rec: LoadRecord = {
        endpoint: "getOrLoad",
        modelKey: key,
        ttlMs,
        contextLength,
        outcome: "pending",
        startedAt: performance.now(),
        namespace: session.namespace,
        configFields: fields,
      };
      const model = this.beginLoad(session, channelId, domain, rec);
      if (model === undefined) return;
      // A get-or-load load is a JIT load: auto-evict, default TTL (lmstudio-python test_jit_unloading)
      for (const evicted of this.evictJitModels()) {
        this.send(session, {
          type: "channelSend",
          channelId,
          message: { type: "unloadingOtherJITModel", info: this.instanceInfo(evicted) },
        });
      }
      const identifier = this.defaultIdentifier(model.modelKey);
      this.runLoad(session, channelId, ch, rec, model, identifier, contextLength, ttlMs, true, undefined);
      return;
    }

    // loadModel
    const key = String(p.modelKey);
    const ttlMs = typeof p.ttlMs === "number" ? p.ttlMs : null;
    const requestedId = typeof p.identifier === "string" ? p.identifier : undefined;
    const rec: LoadRecord = {
      endpoint: "loadModel",
      modelKey: key,
      identifier: requestedId,
      ttlMs,
      contextLength,
      outcome: "pending",
      startedAt: performance.now(),
      namespace: session.namespace,
      configFields: fields,
    };
    const model = this.beginLoad(session, channelId, domain, rec);
    if (model === undefined) return;
    if (requestedId !== undefined && this.identifierTaken(requestedId)) {
      this.failLoadEarly(session, channelId, rec, new LmsError(this.identifierTakenText(requestedId)));
      return;
    }
    const ambiguous = this.findModels(key, domain).map((m) => m.modelKey);
    const identifier = requestedId ?? this.defaultIdentifier(model.modelKey);
    this.runLoad(
      session,
      channelId,
      ch,
      rec,
      model,
      identifier,
      contextLength,
      ttlMs,
      false,
      ambiguous.length > 1 ? ambiguous : undefined,
    );
  }

  /** Records a load and resolves its model; answers the channel's error itself when it cannot. */
  private beginLoad(
    session: Session,
    channelId: number,
    domain: ModelType,
    rec: LoadRecord,
  ): ResolvedModel | undefined {
    this.loads.push(rec);
    const key = rec.modelKey;
    const model = this.findModel(key, domain) ?? this.findModel(key);
    if (model === undefined) {
      this.failLoadEarly(session, channelId, rec, this.pathNotFound(key, domain));
      return undefined;
    }
    if (model.type !== domain) {
      this.failLoadEarly(session, channelId, rec, this.domainMismatch(key, model.type, domain));
      return undefined;
    }
    rec.modelKey = model.modelKey;
    return model;
  }

  private failLoadEarly(session: Session, channelId: number, rec: LoadRecord, err: LmsError): void {
    rec.outcome = "failed";
    rec.error = err.serialized.title;
    rec.endedAt = performance.now();
    this.channelError(session, channelId, err);
  }

  // ---------------------------------------------------------------- repository (downloads)

  /** The option id of a hub model's one download (its Q4_K_M GGUF). */
  private static downloadIdOf(modelKey: string): string {
    return `${modelKey}@Q4_K_M`;
  }

  /**
   * `searchModels` (catalogue entries whose key contains the search term, case-insensitive; `exact`
   * when it is the key) and `getModelDownloadOptions` (one recommended Q4_K_M GGUF each).
   */
  private handleRepositoryRpc(endpoint: string, param: unknown): unknown {
    const p = isObject(param) ? param : {};
    if (endpoint === "searchModels") {
      const opts = isObject(p.opts) ? p.opts : {};
      const term = typeof opts.searchTerm === "string" ? opts.searchTerm.toLowerCase() : "";
      const limit = typeof opts.limit === "number" ? opts.limit : 10;
      const results = [...this.hub.values()]
        .filter((m) => m.modelKey.toLowerCase().includes(term))
        .slice(0, limit)
        .map((m) => ({
          name: m.modelKey,
          identifier: { type: "catalog", identifier: m.modelKey },
          exact: m.modelKey.toLowerCase() === term,
          staffPick: true,
        }));
      return { results };
    }
    if (endpoint === "getModelDownloadOptions") {
      const id = isObject(p.modelSearchResultIdentifier)
        ? String(p.modelSearchResultIdentifier.identifier)
        : "";
      const m = this.hub.get(id);
      if (m === undefined) throw new LmsError(`No model found for "${id}"`);
      const r = resolveModel(m);
      return {
        results: [
          {
            quantization: "Q4_K_M",
            name: r.path.split("/").at(-1) ?? r.path,
            sizeBytes: Number(r.info.sizeBytes),
            fitEstimation: "fullGPUOffload",
            recommended: true,
            downloadIdentifier: LmStudioEmulator.downloadIdOf(m.modelKey),
            indexedModelIdentifier: r.path,
          },
        ],
      };
    }
    throw new UnknownEndpoint(endpoint, "repository");
  }

  /**
   * `downloadModel`: downloadProgress×N, startFinalizing, success {defaultIdentifier: the model key};
   * the model is then in the downloaded catalogue. `cancel` stops it with a channelError.
   */
  private runDownload(
    session: Session,
    channelId: number,
    ch: ChannelState,
    downloadIdentifier: string,
  ): void {
    const hub = [...this.hub.values()].find(
      (m) => LmStudioEmulator.downloadIdOf(m.modelKey) === downloadIdentifier,
    );
    if (hub === undefined) {
      this.channelError(session, channelId, new LmsError(`Unknown download "${downloadIdentifier}"`));
      return;
    }
    const model = resolveModel(hub);
    const total = Number(model.info.sizeBytes);
    const rec: DownloadRecord = {
      downloadIdentifier,
      modelKey: hub.modelKey,
      outcome: "pending",
      startedAt: performance.now(),
    };
    this.downloads.push(rec);
    const steps = this.knobs.downloadSteps;
    const interval = this.knobs.downloadTimeMs / steps;
    const fault = this.downloadFault;
    this.downloadFault = null;
    let k = 0;
    const finish = (outcome: DownloadRecord["outcome"]) => {
      clearTimeout(ch.timer);
      ch.timer = undefined;
      rec.outcome = outcome;
      rec.endedAt = performance.now();
    };
    const sendMsg = (message: unknown) => this.send(session, { type: "channelSend", channelId, message });
    ch.onCancel = () => {
      if (rec.outcome !== "pending") return;
      finish("cancelled");
      this.channelError(session, channelId, new LmsError("Download cancelled"));
    };
    ch.onSocketClose = () => {
      if (rec.outcome === "pending") finish("dropped");
    };
    const tick = () => {
      ch.timer = undefined;
      if (rec.outcome !== "pending" || session.closed) return;
      k++;
      const downloadedBytes = Math.floor((total * k) / steps);
      const speed = interval > 0 ? Math.round(total / steps / (interval / 1000)) : total;
      if (fault !== null && k > steps / 2) {
        finish("failed");
        this.channelError(session, channelId, new LmsError(fault));
        return;
      }
      sendMsg({
        type: "downloadProgress",
        update: { downloadedBytes, totalBytes: total, speedBytesPerSecond: speed },
      });
      if (k < steps) {
        ch.timer = setTimeout(tick, interval);
        return;
      }
      sendMsg({ type: "startFinalizing" });
      this.catalogue.set(model.modelKey, model);
      finish("downloaded");
      sendMsg({ type: "success", defaultIdentifier: model.modelKey });
      session.channels.delete(channelId);
      this.send(session, { type: "channelClose", channelId });
    };
    ch.timer = setTimeout(tick, interval);
  }

  private runLoad(
    session: Session,
    channelId: number,
    ch: ChannelState,
    rec: LoadRecord,
    model: ResolvedModel,
    identifier: string,
    contextLength: number | undefined,
    ttlMs: number | null,
    getOrLoad: boolean,
    ambiguous: string[] | undefined,
  ): void {
    rec.identifier = identifier;
    this.reserved.add(identifier);
    const fault = this.loadFault;
    this.loadFault = null;
    const steps = this.knobs.loadSteps;
    const interval = this.knobs.loadTimeMs / steps;
    let k = 0;
    let finished = false;
    const finish = (outcome: LoadRecord["outcome"]): void => {
      finished = true;
      clearTimeout(ch.timer);
      ch.timer = undefined;
      this.reserved.delete(identifier);
      rec.outcome = outcome;
      rec.endedAt = performance.now();
    };
    const sendMsg = (message: unknown): void =>
      this.send(session, { type: "channelSend", channelId, message });
    ch.onCancel = () => {
      if (finished) return;
      finish("cancelled");
      this.channelError(session, channelId, new LmsError("Model loading was cancelled"));
    };
    ch.onSocketClose = () => {
      if (!finished) finish("dropped");
    };
    const info = this.modelInfo(model);
    if (getOrLoad) sendMsg({ type: "startLoading", identifier: model.modelKey, info });
    else
      sendMsg(ambiguous === undefined ? { type: "resolved", info } : { type: "resolved", info, ambiguous });
    const tick = (): void => {
      ch.timer = undefined;
      if (finished || session.closed) return;
      k++;
      const progress = k / steps;
      if (fault?.kind === "fail" && progress > fault.atProgress) {
        finish("failed");
        rec.error = fault.message;
        this.channelError(session, channelId, new LmsError(fault.message));
        return;
      }
      sendMsg(getOrLoad ? { type: "loadProgress", progress } : { type: "progress", progress });
      if (fault?.kind === "drop") {
        finish("dropped");
        session.ws.terminate();
        return;
      }
      if (fault?.kind === "hang") return;
      if (k < steps) {
        ch.timer = setTimeout(tick, interval);
        return;
      }
      if (fault?.kind === "fail") {
        finish("failed");
        rec.error = fault.message;
        this.channelError(session, channelId, new LmsError(fault.message));
        return;
      }
      finish("loaded");
      const effectiveTtl = getOrLoad ? (ttlMs ?? this.knobs.jitTtlMs) : ttlMs;
      const inst = this.addInstance(model, identifier, contextLength, effectiveTtl, getOrLoad);
      sendMsg({ type: getOrLoad ? "loadSuccess" : "success", info: this.instanceInfo(inst) });
      session.channels.delete(channelId);
      this.send(session, { type: "channelClose", channelId });
    };
    ch.timer = setTimeout(tick, interval);
  }

  // ---------------------------------------------------------------- HTTP side

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q >= 0 ? url.slice(0, q) : url;
    const method = req.method ?? "GET";
    if (method === "GET" && path === "/lmstudio-greeting") {
      req.resume();
      sendJson(res, 200, '{"lmstudio":true}');
      return;
    }
    if (this.knobs.requireToken !== null && !this.httpAuthorized(req)) {
      req.resume();
      const given = req.headers.authorization !== undefined || req.headers["x-api-key"] !== undefined;
      sendJson(
        res,
        401,
        JSON.stringify({
          error: {
            type: "invalid_request",
            code: "invalid_api_key",
            message: given ? TOKEN_INVALID_MESSAGE : TOKEN_REQUIRED_MESSAGE,
          },
        }),
      );
      return;
    }
    if (method === "POST") {
      let endpoint: HttpEndpoint | undefined;
      switch (path) {
        case "/v1/chat/completions":
        case "/api/v0/chat/completions":
          endpoint = "chat";
          break;
        case "/v1/completions":
        case "/api/v0/completions":
          endpoint = "completions";
          break;
        case "/v1/embeddings":
        case "/api/v0/embeddings":
          endpoint = "embeddings";
          break;
        case "/v1/responses":
          endpoint = "responses";
          break;
        case "/v1/messages":
          // Anthropic-compatible API: LM Studio 0.4.1+ (API changelog)
          if (this.knobs.profile === "0.4") endpoint = "messages";
          break;
      }
      if (endpoint !== undefined) {
        const ep = endpoint;
        this.readBody(req, (raw) => this.handleGeneration(req, res, raw, ep, path));
        return;
      }
    }
    if (method === "GET" && path === "/v1/models") {
      req.resume();
      sendJson(res, 200, JSON.stringify({ data: this.openaiModels(), object: "list" }));
      return;
    }
    if (method === "GET" && (path === "/api/v0/models" || path.startsWith("/api/v0/models/"))) {
      req.resume();
      this.handleV0Models(res, path);
      return;
    }
    req.resume();
    sendJson(
      res,
      200,
      JSON.stringify({ error: `Unexpected endpoint or method. (${method} ${path}). Returning 200 anyway` }),
    );
  };

  private httpAuthorized(req: IncomingMessage): boolean {
    const token = this.knobs.requireToken;
    if (token === null) return true;
    const auth = req.headers.authorization;
    if (typeof auth === "string" && auth.startsWith("Bearer ") && auth.slice(7).trim() === token) return true;
    // the Anthropic-compatible endpoint also accepts x-api-key (docs: anthropic-compat)
    return req.headers["x-api-key"] === token;
  }

  private readBody(req: IncomingMessage, cb: (raw: Buffer) => void): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => cb(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on("error", () => {});
  }

  private openaiModels(): Array<{ id: string; object: "model"; owned_by: string }> {
    const ids: string[] = [];
    if (this.knobs.jit) {
      for (const m of this.catalogue.values()) if (m.type === "llm") ids.push(m.modelKey);
      for (const i of this.instances.keys()) if (!ids.includes(i)) ids.push(i);
    } else {
      for (const i of this.instances.keys()) ids.push(i);
    }
    return ids.map((id) => ({ id, object: "model", owned_by: "organization_owner" }));
  }

  /** REST v0 model list (LM Studio 0.3.6+; docs developer/rest/endpoints) */
  private v0Entry(m: ResolvedModel): Record<string, unknown> {
    const inst = [...this.instances.values()].find((i) => i.model === m);
    const info = m.info;
    const quant = isObject(info.quantization) ? info.quantization.name : undefined;
    const entry: Record<string, unknown> = {
      id: m.modelKey,
      object: "model",
      type: m.type === "embedding" ? "embeddings" : m.vision ? "vlm" : "llm",
      publisher: m.publisher,
      arch: info.architecture,
      compatibility_type: info.format,
      quantization: quant,
      state: inst === undefined ? "not-loaded" : "loaded",
      max_context_length: m.maxContextLength,
    };
    if (inst !== undefined) entry.loaded_context_length = inst.contextLength;
    // capabilities array: 0.3.16+ (API changelog)
    if (m.type === "llm") entry.capabilities = m.trainedForToolUse ? ["tool_use"] : [];
    return entry;
  }

  private handleV0Models(res: ServerResponse, path: string): void {
    const loadedModels = new Set([...this.instances.values()].map((i) => i.model));
    const visible = [...this.catalogue.values()].filter((m) => this.knobs.jit || loadedModels.has(m));
    if (path === "/api/v0/models" || path === "/api/v0/models/") {
      sendJson(res, 200, JSON.stringify({ object: "list", data: visible.map((m) => this.v0Entry(m)) }));
      return;
    }
    const name = decodeURIComponent(path.slice("/api/v0/models/".length));
    const m = visible.find((v) => v.modelKey === name) ?? this.findModel(name);
    if (m === undefined || !visible.includes(m)) {
      sendJson(res, 404, JSON.stringify({ error: `Model "${name}" not found` }));
      return;
    }
    sendJson(res, 200, JSON.stringify(this.v0Entry(m)));
  }

  private endChat(ctx: ChatCtx, outcome: ChatRecord["outcome"]): void {
    if (ctx.done) return;
    ctx.done = true;
    clearTimeout(ctx.timer);
    if (ctx.immediate !== undefined) clearImmediate(ctx.immediate);
    ctx.rec.outcome = outcome;
    ctx.rec.endedAt = performance.now();
    this.activeChats.delete(ctx);
    const waitingOn = ctx.waitingOn;
    if (waitingOn !== undefined) {
      ctx.waitingOn = undefined;
      waitingOn.waiters = waitingOn.waiters.filter((w) => w.ctx !== ctx);
    }
    const slot = ctx.slot;
    if (slot !== undefined) {
      ctx.slot = undefined;
      slot.active--;
      this.startWaiters(slot);
    }
  }

  /** Runs `start` in one of the instance's `parallel` prediction slots, or queues it. */
  private acquireSlot(ctx: ChatCtx, inst: Instance, start: () => void): void {
    if (inst.active < this.knobs.parallel && inst.waiters.length === 0) {
      inst.active++;
      ctx.slot = inst;
      start();
      return;
    }
    ctx.rec.queued = true;
    ctx.waitingOn = inst;
    inst.waiters.push({ ctx, start });
  }

  private startWaiters(inst: Instance): void {
    while (inst.active < this.knobs.parallel && inst.waiters.length > 0) {
      const w = inst.waiters.shift() as Waiter;
      if (w.ctx.done) continue;
      w.ctx.waitingOn = undefined;
      inst.active++;
      w.ctx.slot = inst;
      w.start();
    }
  }

  private pushChat(rec: ChatRecord): void {
    if (this.chats.length >= this.knobs.maxChatRecords) {
      this.chats.splice(0, Math.ceil(this.chats.length / 2));
    }
    this.chats.push(rec);
  }

  private handleGeneration(
    req: IncomingMessage,
    res: ServerResponse,
    raw: Buffer,
    endpoint: HttpEndpoint,
    path: string,
  ): void {
    const rec: ChatRecord = {
      id: ++this.chatCounter,
      endpoint: path,
      body: undefined,
      rawBody: raw,
      model: "",
      stream: false,
      outcome: "pending",
      chunksSent: 0,
      startedAt: performance.now(),
      status: 0,
      authorization: req.headers.authorization,
      requestId: typeof req.headers["x-request-id"] === "string" ? req.headers["x-request-id"] : undefined,
      queued: false,
    };
    this.pushChat(rec);
    const ctx: ChatCtx = {
      rec,
      res,
      done: false,
      timer: undefined,
      immediate: undefined,
      slot: undefined,
      waitingOn: undefined,
    };
    this.activeChats.add(ctx);
    res.on("close", () => {
      if (!ctx.done) this.endChat(ctx, this.droppingAll ? "failed" : "cancelled");
    });
    const fail = (status: number, body: string): void => {
      rec.status = status;
      this.endChat(ctx, "failed");
      sendJson(res, status, body);
    };

    const text = raw.toString("utf8");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      rec.body = text;
      fail(400, JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
      return;
    }
    rec.body = body;
    if (!isObject(body)) {
      fail(400, JSON.stringify({ error: "Request body must be a JSON object" }));
      return;
    }
    const requested = typeof body.model === "string" ? body.model : "";
    rec.model = requested;
    rec.stream = body.stream === true && endpoint !== "embeddings";

    const fault = this.chatFault;
    if (fault !== null) {
      this.chatFault = null;
      if (fault.kind === "hang") return;
      if (fault.afterChunks === undefined) {
        fail(fault.status, JSON.stringify(fault.body));
        return;
      }
    }

    const required: Record<HttpEndpoint, string> = {
      chat: "messages",
      messages: "messages",
      completions: "prompt",
      responses: "input",
      embeddings: "input",
    };
    const field = required[endpoint];
    const value = body[field];
    if (field === "messages" ? !Array.isArray(value) : value === undefined) {
      fail(400, JSON.stringify({ error: `'${field}' field is required` }));
      return;
    }
    const type: ModelType = endpoint === "embeddings" ? "embedding" : "llm";
    const codes = this.knobs.statusCodes;
    const messages = endpoint === "chat" ? (body.messages as unknown[]) : [];
    const imageProblemFor = (vision: boolean): boolean => {
      const problem = findImageProblem(messages, vision, this.knobs.rejectWebp);
      if (problem === null) return false;
      fail(
        problem === "unsupported" ? codes.imagesNotSupported : codes.invalidImage,
        problem === "unsupported" ? IMAGES_NOT_SUPPORTED : INVALID_IMAGE,
      );
      return true;
    };
    const serve = (inst: Instance): void => {
      rec.model = inst.identifier;
      if (imageProblemFor(inst.model.vision)) return;
      this.touch(inst);
      this.acquireSlot(ctx, inst, () => {
        const gen = this.prepare(endpoint, body as Record<string, unknown>, inst, rec, fault);
        this.runGeneration(ctx, inst, gen, fault);
      });
    };

    const inst = this.matchInstance(requested, type);
    if (inst !== undefined) {
      serve(inst);
      return;
    }
    if (this.knobs.jit) {
      const model = requested === "" ? undefined : this.findModel(requested, type);
      if (model === undefined) {
        fail(codes.modelNotFound, this.modelNotFoundBody(requested, type));
        return;
      }
      if (imageProblemFor(model.vision)) return;
      this.jitLoad(ctx, body, model, serve);
      return;
    }
    if (this.instancesOf(type).length === 0) {
      fail(
        codes.noModelsLoaded,
        JSON.stringify({
          error: { message: NO_MODELS_MESSAGE, type: "invalid_request_error", param: "model", code: null },
        }),
      );
      return;
    }
    fail(codes.modelNotFound, this.modelNotFoundBody(requested, type));
  }

  private modelNotFoundBody(requested: string, type: ModelType): string {
    const examples = this.knobs.jit
      ? [...this.catalogue.values()].filter((m) => m.type === type).map((m) => m.modelKey)
      : this.instancesOf(type).map((i) => i.identifier);
    return JSON.stringify({
      error: {
        message: `Invalid model identifier "${requested}". Please specify a valid downloaded model (e.g., ${examples.slice(0, 3).join(", ")}).`,
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found",
      },
    });
  }

  /**
   * A request's `model` matches a loaded identifier (exact, then case-insensitive), then a loaded
   * instance of the model the name resolves to (key or path, case-insensitive). Empty = any.
   */
  private matchInstance(requested: string, type: ModelType): Instance | undefined {
    if (requested === "") {
      for (const i of this.instances.values()) if (i.model.type === type) return i;
      return undefined;
    }
    const byId = this.instances.get(requested);
    if (byId !== undefined) return byId.model.type === type ? byId : undefined;
    const lower = requested.toLowerCase();
    for (const i of this.instances.values()) {
      if (i.model.type === type && i.identifier.toLowerCase() === lower) return i;
    }
    for (const m of this.findModels(requested, type)) {
      for (const i of this.instances.values()) if (i.model === m) return i;
    }
    return undefined;
  }

  private jitLoad(
    ctx: ChatCtx,
    body: Record<string, unknown>,
    model: ResolvedModel,
    then: (inst: Instance) => void,
  ): void {
    const requestedTtl = typeof body.ttl === "number" && body.ttl > 0 ? body.ttl * 1000 : null;
    this.evictJitModels();
    const identifier = this.defaultIdentifier(model.modelKey);
    this.reserved.add(identifier);
    const rec: LoadRecord = {
      endpoint: "jit",
      modelKey: model.modelKey,
      identifier,
      ttlMs: requestedTtl,
      outcome: "pending",
      startedAt: performance.now(),
      namespace: "http",
    };
    this.loads.push(rec);
    // The load runs to completion even if the client goes away (as LM Studio does).
    setTimeout(() => {
      this.reserved.delete(identifier);
      if (this.server === undefined) {
        rec.outcome = "dropped";
        rec.endedAt = performance.now();
        return;
      }
      const inst = this.addInstance(model, identifier, undefined, requestedTtl ?? this.knobs.jitTtlMs, true);
      rec.outcome = "loaded";
      rec.endedAt = performance.now();
      if (!ctx.done) then(inst);
    }, this.knobs.loadTimeMs);
  }

  private tokensFor(text: string): string[] {
    let tokens = this.tokenCache.get(text);
    if (tokens === undefined) {
      tokens = splitTokens(text);
      if (this.tokenCache.size >= 1000) this.tokenCache.clear();
      this.tokenCache.set(text, tokens);
    }
    return tokens;
  }

  private replyText(said: string, body: Record<string, unknown>, identifier: string): string {
    const r = this.knobs.reply;
    if (typeof r === "string") return r;
    if (typeof r === "function") return r(body);
    if (said === "") return `Hello from ${identifier}!`;
    const short = said.length > 80 ? `${said.slice(0, 80)}…` : said;
    return `Hello from ${identifier}! You said: ${short}`;
  }

  /** Reply tokens cut at `max` (-1 = none), grouped `tokensPerChunk` per piece. */
  private pieces(text: string, max: number): { pieces: string[]; count: number; cut: boolean } {
    const all = this.tokensFor(text);
    const cut = max >= 0 && max < all.length;
    const tokens = cut ? all.slice(0, max) : all;
    const tpc = this.knobs.tokensPerChunk;
    const pieces: string[] = [];
    for (let i = 0; i < tokens.length; i += tpc) {
      pieces.push(tpc === 1 ? (tokens[i] as string) : tokens.slice(i, i + tpc).join(""));
    }
    return { pieces, count: tokens.length, cut };
  }

  private toolCallFor(body: Record<string, unknown>): { name: string; arguments: string } | null {
    const tools = Array.isArray(body.tools) ? body.tools : [];
    if (tools.length === 0 || body.tool_choice === "none") return null;
    const k = this.knobs.toolCall;
    const forced = body.tool_choice === "required" || isObject(body.tool_choice);
    const opt = typeof k === "function" ? k(body) : k;
    if (opt === null && !forced) return null;
    const choiceName =
      isObject(body.tool_choice) && isObject(body.tool_choice.function)
        ? body.tool_choice.function.name
        : undefined;
    const first = tools[0];
    const firstName = isObject(first)
      ? isObject(first.function)
        ? first.function.name
        : first.name
      : undefined;
    const name = opt?.name ?? (typeof choiceName === "string" ? choiceName : undefined) ?? firstName;
    return { name: typeof name === "string" ? name : "tool", arguments: opt?.arguments ?? "{}" };
  }

  private maxTokens(body: Record<string, unknown>, ...keys: string[]): number {
    for (const k of keys) {
      const v = body[k];
      if (typeof v === "number") return v >= 0 ? Math.floor(v) : -1;
    }
    return -1;
  }

  private prepare(
    endpoint: HttpEndpoint,
    body: Record<string, unknown>,
    inst: Instance,
    rec: ChatRecord,
    fault: ChatFault,
  ): Generation {
    switch (endpoint) {
      case "chat":
        return this.prepareChat(body, inst, rec);
      case "completions":
        return this.prepareCompletion(body, inst, rec);
      case "responses":
        return this.prepareResponse(body, inst, rec);
      case "messages":
        return this.prepareMessages(body, inst, rec);
      case "embeddings":
        return this.prepareEmbeddings(body, inst, fault);
    }
  }

  /** Chat completions: reasoning deltas, content deltas, or a tool call (LM Studio's OpenAI-compatible API). */
  private prepareChat(body: Record<string, unknown>, inst: Instance, rec: ChatRecord): Generation {
    const messages = body.messages as unknown[];
    const tool = this.toolCallFor(body);
    const content =
      tool === null
        ? this.pieces(
            this.replyText(lastUserText(messages), body, inst.identifier),
            this.maxTokens(body, "max_tokens", "max_completion_tokens"),
          )
        : { pieces: [], count: 0, cut: false };
    const reasoning = this.knobs.reasoning;
    const reasoningField =
      reasoning?.field ??
      (inst.model.modelKey.toLowerCase().includes("gpt-oss") ? "reasoning" : "reasoning_content");
    const thought =
      reasoning === null ? { pieces: [], count: 0, cut: false } : this.pieces(reasoning.text, -1);
    const finishReason = tool !== null ? "tool_calls" : content.cut ? "length" : "stop";
    const promptTokens = countPromptWords(messages);
    const completionTokens = content.count + thought.count;
    const usage = `{"prompt_tokens":${promptTokens},"completion_tokens":${completionTokens},"total_tokens":${promptTokens + completionTokens}}`;
    const id = `chatcmpl-${this.idPrefix}${rec.id.toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const modelJson = JSON.stringify(inst.identifier);
    const callId = String(100_000_000 + ((rec.id * 7_919) % 900_000_000));

    // non-streaming body
    const message: Record<string, unknown> = { role: "assistant" };
    if (tool === null) message.content = content.pieces.join("");
    if (reasoning !== null) message[reasoningField] = thought.pieces.join("");
    if (tool !== null) {
      message.tool_calls = [
        { id: callId, type: "function", function: { name: tool.name, arguments: tool.arguments } },
      ];
    }
    const plain = `{"id":"${id}","object":"chat.completion","created":${created},"model":${modelJson},"choices":[{"index":0,"logprobs":null,"finish_reason":"${finishReason}","message":${JSON.stringify(message)}}],"usage":${usage},"stats":{},"system_fingerprint":${modelJson}}`;

    const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
    const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${modelJson},"system_fingerprint":${modelJson},"choices":[{"index":0,"delta":{`;
    const tail = `},"logprobs":null,"finish_reason":null}]}\n\n`;
    const deltas: string[] = [];
    for (const p of thought.pieces) deltas.push(`"${reasoningField}":${JSON.stringify(p)}`);
    for (const p of content.pieces) deltas.push(`"content":${JSON.stringify(p)}`);
    if (tool !== null) {
      deltas.push(
        `"tool_calls":[{"index":0,"id":"${callId}","type":"function","function":{"name":${JSON.stringify(tool.name)},"arguments":""}}]`,
      );
      for (const a of slices(tool.arguments, 8)) {
        deltas.push(`"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(a)}}}]`);
      }
    }
    if (deltas.length === 0) deltas.push(`"content":""`);
    const frames = deltas.map((d, i) =>
      i === 0 ? `${head}"role":"assistant",${d}${tail}` : `${head}${d}${tail}`,
    );
    const ending =
      `${head}},"logprobs":null,"finish_reason":"${finishReason}"}]}\n\n` +
      (includeUsage
        ? `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${modelJson},"system_fingerprint":${modelJson},"choices":[],"usage":${usage}}\n\n`
        : "") +
      DONE_FRAME;
    return { prelude: "", frames, ending, body: plain, errorFrame: sseError };
  }

  /** Legacy text completions (/v1/completions; docs openai-compat/completions, REST v0 shape). */
  private prepareCompletion(body: Record<string, unknown>, inst: Instance, rec: ChatRecord): Generation {
    const prompt =
      typeof body.prompt === "string" ? body.prompt : Array.isArray(body.prompt) ? body.prompt.join(" ") : "";
    const content = this.pieces(
      this.replyText(prompt.trim(), body, inst.identifier),
      this.maxTokens(body, "max_tokens"),
    );
    const finishReason = content.cut ? "length" : "stop";
    const promptTokens = countTextWords(body.prompt);
    const usage = `{"prompt_tokens":${promptTokens},"completion_tokens":${content.count},"total_tokens":${promptTokens + content.count}}`;
    const id = `cmpl-${this.idPrefix}${rec.id.toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const modelJson = JSON.stringify(inst.identifier);
    const head = `data: {"id":"${id}","object":"text_completion","created":${created},"model":${modelJson},"choices":[{"index":0,"text":`;
    const frames = content.pieces.map(
      (p) => `${head}${JSON.stringify(p)},"logprobs":null,"finish_reason":null}]}\n\n`,
    );
    const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
    const ending =
      `${head}"","logprobs":null,"finish_reason":"${finishReason}"}]}\n\n` +
      (includeUsage
        ? `data: {"id":"${id}","object":"text_completion","created":${created},"model":${modelJson},"choices":[],"usage":${usage}}\n\n`
        : "") +
      DONE_FRAME;
    const plain = `{"id":"${id}","object":"text_completion","created":${created},"model":${modelJson},"choices":[{"index":0,"text":${JSON.stringify(content.pieces.join(""))},"logprobs":null,"finish_reason":"${finishReason}"}],"usage":${usage},"stats":{}}`;
    return { prelude: "", frames, ending, body: plain, errorFrame: sseError };
  }

  /** The Responses API (LM Studio 0.3.29+): response.created … response.output_text.delta … response.completed. */
  private prepareResponse(body: Record<string, unknown>, inst: Instance, rec: ChatRecord): Generation {
    const input = body.input;
    const said = typeof input === "string" ? input : lastUserText(input);
    const content = this.pieces(
      this.replyText(said.trim(), body, inst.identifier),
      this.maxTokens(body, "max_output_tokens"),
    );
    const text = content.pieces.join("");
    const inputTokens = typeof input === "string" ? countWords(input) : countTextWords(input);
    const id = `resp_${this.idPrefix}${rec.id.toString(36)}`;
    const msgId = `msg_${this.idPrefix}${rec.id.toString(36)}`;
    const createdAt = Math.floor(Date.now() / 1000);
    const usage = {
      input_tokens: inputTokens,
      output_tokens: content.count,
      total_tokens: inputTokens + content.count,
    };
    const base = {
      id,
      object: "response",
      created_at: createdAt,
      model: inst.identifier,
      previous_response_id: typeof body.previous_response_id === "string" ? body.previous_response_id : null,
      instructions: typeof body.instructions === "string" ? body.instructions : null,
      error: null,
    };
    const part = { type: "output_text", text, annotations: [] };
    const item = { id: msgId, type: "message", role: "assistant", status: "completed", content: [part] };
    const status = content.cut ? "incomplete" : "completed";
    const final = {
      ...base,
      status,
      incomplete_details: content.cut ? { reason: "max_output_tokens" } : null,
      output: [item],
      usage,
    };
    let seq = 0;
    const ev = (type: string, data: Record<string, unknown>): string =>
      namedEvent(type, { type, sequence_number: seq++, ...data });
    const inProgress = { ...base, status: "in_progress", incomplete_details: null, output: [], usage: null };
    const prelude =
      ev("response.created", { response: inProgress }) +
      ev("response.in_progress", { response: inProgress }) +
      ev("response.output_item.added", {
        output_index: 0,
        item: { id: msgId, type: "message", role: "assistant", status: "in_progress", content: [] },
      }) +
      ev("response.content_part.added", {
        item_id: msgId,
        output_index: 0,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [] },
      });
    const frames = content.pieces.map((p) =>
      ev("response.output_text.delta", { item_id: msgId, output_index: 0, content_index: 0, delta: p }),
    );
    const ending =
      ev("response.output_text.done", { item_id: msgId, output_index: 0, content_index: 0, text }) +
      ev("response.content_part.done", { item_id: msgId, output_index: 0, content_index: 0, part }) +
      ev("response.output_item.done", { output_index: 0, item }) +
      ev(content.cut ? "response.incomplete" : "response.completed", { response: final });
    return { prelude, frames, ending, body: JSON.stringify(final), errorFrame: sseError };
  }

  /** Anthropic Messages (LM Studio 0.4.1+, docs anthropic-compat/messages). */
  private prepareMessages(body: Record<string, unknown>, inst: Instance, rec: ChatRecord): Generation {
    const messages = body.messages as unknown[];
    const content = this.pieces(
      this.replyText(lastUserText(messages), body, inst.identifier),
      this.maxTokens(body, "max_tokens"),
    );
    const stopReason = content.cut ? "max_tokens" : "end_turn";
    const inputTokens = countPromptWords(messages) + countTextWords(body.system);
    const id = `msg_${this.idPrefix}${rec.id.toString(36)}`;
    const text = content.pieces.join("");
    const plain = {
      id,
      type: "message",
      role: "assistant",
      model: inst.identifier,
      content: [{ type: "text", text }],
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: content.count },
    };
    const ev = (type: string, data: Record<string, unknown>): string => namedEvent(type, { type, ...data });
    const prelude =
      ev("message_start", {
        message: {
          ...plain,
          content: [],
          stop_reason: null,
          usage: { input_tokens: inputTokens, output_tokens: 0 },
        },
      }) + ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    const frames = content.pieces.map((p) =>
      ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: p } }),
    );
    const ending =
      ev("content_block_stop", { index: 0 }) +
      ev("message_delta", {
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: content.count },
      }) +
      ev("message_stop", {});
    return {
      prelude,
      frames,
      ending,
      body: JSON.stringify(plain),
      errorFrame: (b) => namedEvent("error", { type: "error", error: isObject(b) ? b.error : b }),
    };
  }

  /** /v1/embeddings: deterministic vectors in OpenAI's list shape (docs REST v0 embeddings example). */
  private prepareEmbeddings(body: Record<string, unknown>, inst: Instance, _fault: ChatFault): Generation {
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const dims = this.knobs.embeddingDimensions;
    const data = inputs.map((text, index) => ({
      object: "embedding",
      embedding: embeddingOf(typeof text === "string" ? text : JSON.stringify(text), dims),
      index,
    }));
    const plain = JSON.stringify({
      object: "list",
      data,
      model: inst.identifier,
      usage: { prompt_tokens: 0, total_tokens: 0 },
    });
    return { prelude: "", frames: [], ending: "", body: plain, errorFrame: sseError };
  }

  private finishStream(ctx: ChatCtx, inst: Instance, last: string): void {
    const { res } = ctx;
    this.touch(inst);
    this.endChat(ctx, "finished");
    const gap = this.knobs.separateFinalChunkMs;
    if (gap > 0) {
      // the chunked body's terminating 0\r\n\r\n goes out in its own packet
      res.write(last, () => setTimeout(() => res.end(), gap));
      return;
    }
    res.end(last);
  }

  /** Sends a prepared generation: paced SSE frames, or one JSON body; applies the chat fault. */
  private runGeneration(ctx: ChatCtx, inst: Instance, gen: Generation, fault: ChatFault): void {
    if (ctx.done) return;
    const { rec, res } = ctx;
    const frames = gen.frames;
    const afterChunks = fault?.kind === "fail" ? fault.afterChunks : undefined;
    const chunkDelay = this.knobs.chunkDelayMs;
    const firstDelay = this.knobs.firstChunkDelayMs;

    if (!rec.stream) {
      const finishNonStream = (): void => {
        ctx.timer = undefined;
        if (ctx.done) return;
        rec.chunksSent = frames.length;
        if (fault?.kind === "fail") {
          if (fault.mode === "drop") {
            this.endChat(ctx, "failed");
            res.socket?.destroy();
            return;
          }
          rec.status = fault.status;
          this.endChat(ctx, "failed");
          sendJson(res, fault.status, JSON.stringify(fault.body));
          return;
        }
        this.touch(inst);
        rec.status = 200;
        this.endChat(ctx, "finished");
        sendJson(res, 200, gen.body);
      };
      const total = firstDelay + chunkDelay * frames.length;
      if (total > 0) ctx.timer = setTimeout(finishNonStream, total);
      else finishNonStream();
      return;
    }

    rec.status = 200;
    res.writeHead(200, SSE_HEADERS);
    if (gen.prelude !== "") res.write(gen.prelude);
    else res.flushHeaders();
    let i = 0;
    const applyFault = (pending: string): void => {
      if (fault?.kind !== "fail") return;
      if (fault.mode === "drop") {
        this.endChat(ctx, "failed");
        const socket = res.socket;
        // let the pending chunks reach the client, then cut the connection
        if (pending !== "") res.write(pending, () => socket?.destroy());
        else socket?.destroy();
        return;
      }
      this.endChat(ctx, "failed");
      const errBody =
        isObject(fault.body) && isObject(fault.body.error)
          ? fault.body
          : { error: { message: "Internal error" } };
      res.end(pending + gen.errorFrame(errBody));
    };
    const step = (): void => {
      ctx.timer = undefined;
      ctx.immediate = undefined;
      if (ctx.done) return;
      if (chunkDelay === 0) {
        let buf = "";
        let n = 0;
        while (i < frames.length && n < BATCH) {
          if (afterChunks !== undefined && i === afterChunks) {
            rec.chunksSent = i;
            applyFault(buf);
            return;
          }
          buf += frames[i];
          i++;
          n++;
        }
        rec.chunksSent = i;
        if (i < frames.length) {
          if (res.write(buf)) ctx.immediate = setImmediate(step);
          else res.once("drain", step);
          return;
        }
        if (afterChunks !== undefined && i === afterChunks) {
          applyFault(buf);
          return;
        }
        this.finishStream(ctx, inst, buf + gen.ending);
        return;
      }
      if (afterChunks !== undefined && i === afterChunks) {
        applyFault("");
        return;
      }
      if (i < frames.length) {
        const ok = res.write(frames[i]);
        i++;
        rec.chunksSent = i;
        if (ok) ctx.timer = setTimeout(step, chunkDelay);
        else res.once("drain", () => (ctx.timer = setTimeout(step, chunkDelay)));
        return;
      }
      this.finishStream(ctx, inst, gen.ending);
    };
    if (firstDelay > 0) ctx.timer = setTimeout(step, firstDelay);
    else step();
  }
}

/** An error inside a chat / completion stream: `event: error` + `data: {"error":…}` (bug-tracker #2339). */
function sseError(body: unknown): string {
  return namedEvent("error", body);
}

/** applyPromptTemplate: a ChatML rendering of a chat history ({messages:[{role, content:[{type:"text",text}]}]}). */
function formatChatML(history: unknown): string {
  const messages = isObject(history) && Array.isArray(history.messages) ? history.messages : [];
  let out = "";
  for (const m of messages) {
    if (!isObject(m)) continue;
    const parts = Array.isArray(m.content) ? m.content : [];
    const text = parts
      .map((p) => (isObject(p) && typeof p.text === "string" ? p.text : ""))
      .filter((t) => t !== "")
      .join("\n");
    out += `<|im_start|>${String(m.role)}\n${text}<|im_end|>\n`;
  }
  return `${out}<|im_start|>assistant\n`;
}

class UnknownEndpoint extends Error {
  constructor(endpoint: string, namespace: string) {
    super(`Unknown endpoint "${endpoint}" in namespace "${namespace}"`);
  }
}
