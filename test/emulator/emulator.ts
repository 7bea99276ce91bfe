/**
 * LM Studio emulator: one loopback server (node:http + ws in noServer mode) that speaks the
 * @lmstudio/sdk websocket protocol (/llm, /embedding, /system) and LM Studio's OpenAI-compatible
 * HTTP API (/v1/models, /v1/chat/completions). See README.md next to this file and
 * /work/shared/lmstudio-protocol.md for the protocol.
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
  type ModelType,
  type ResolvedModel,
  resolveModel,
} from "./catalogue.ts";
import { countPromptWords, findImageProblem, lastUserText, splitTokens } from "./text.ts";

export type { CatalogueModel } from "./catalogue.ts";
export { DEFAULT_CATALOGUE } from "./catalogue.ts";

export interface ChatRecord {
  id: number;
  // biome-ignore lint/suspicious/noExplicitAny: contract: parsed JSON request body as received
  body: any;
  /** identifier that served, or the requested model if it failed early */
  model: string;
  stream: boolean;
  outcome: "pending" | "finished" | "cancelled" | "failed";
  /** content chunks written (streaming), or chunks generated (non-streaming) */
  chunksSent: number;
  startedAt: number;
  endedAt?: number;
  status: number;
  authorization?: string;
}

export interface LoadRecord {
  endpoint: "loadModel" | "getOrLoad" | "jit";
  modelKey: string;
  identifier?: string;
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

export interface EmulatorOptions {
  /** 0 (default) = random free port; host is always 127.0.0.1 */
  port?: number;
  models?: CatalogueModel[];
  preload?: PreloadSpec[];
  jit?: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: contract
  reply?: string | ((body: any) => string);
  tokensPerChunk?: number;
  chunkDelayMs?: number;
  firstChunkDelayMs?: number;
  loadTimeMs?: number;
  loadSteps?: number;
  authError?: string | null;
  version?: string;
  statusCodes?: StatusCodes;
  mimicSilenceOnUnknownEndpoint?: boolean;
  /** extra: keep at most this many chat records (oldest dropped in halves); default unlimited */
  maxChatRecords?: number;
}

export interface LoadedInstance {
  identifier: string;
  modelKey: string;
  contextLength: number;
  ttlMs: number | null;
  type: "llm" | "embedding";
}

interface Knobs {
  jit: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: contract
  reply: string | ((body: any) => string) | undefined;
  tokensPerChunk: number;
  chunkDelayMs: number;
  firstChunkDelayMs: number;
  loadTimeMs: number;
  loadSteps: number;
  authError: string | null;
  version: string;
  statusCodes: Required<StatusCodes>;
  mimicSilenceOnUnknownEndpoint: boolean;
  maxChatRecords: number;
}

function defaultKnobs(): Knobs {
  return {
    jit: false,
    reply: undefined,
    tokensPerChunk: 1,
    chunkDelayMs: 0,
    firstChunkDelayMs: 0,
    loadTimeMs: 40,
    loadSteps: 4,
    authError: null,
    version: "0.3.31",
    statusCodes: { noModelsLoaded: 400, modelNotFound: 400, imagesNotSupported: 400, invalidImage: 400 },
    mimicSilenceOnUnknownEndpoint: false,
    maxChatRecords: Number.POSITIVE_INFINITY,
  };
}

interface Instance {
  identifier: string;
  model: ResolvedModel;
  contextLength: number;
  ttlMs: number | null;
  instanceReference: string;
  lastUsedTime: number | null;
  ttlTimer: NodeJS.Timeout | undefined;
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
}

const SSE_HEADERS = {
  "Content-Type": "text/event-stream",
  "Cache-Control": "no-cache",
  Connection: "keep-alive",
};
const NO_MODELS_MESSAGE =
  "No models loaded. Please load a model in the developer page or use the 'lms load' command.";
const IMAGES_NOT_SUPPORTED = '{"error":"Model does not support images. Please use a model that does."}';
const INVALID_IMAGE = `{"error":"'url' field must be a base64 encoded image."}`;
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
  /** "ws://127.0.0.1:<port>" (no trailing slash: the SDK rejects it) */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.portValue}`;
  }

  readonly chats: ChatRecord[] = [];
  readonly loads: LoadRecord[] = [];
  readonly unloads: string[] = [];
  readonly warnings: string[] = [];
  /** extra: every websocket endpoint call received (after auth) */
  readonly calls: CallRecord[] = [];
  private wsConnectionCount = 0;
  /** websocket connections accepted so far */
  get wsConnections(): number {
    return this.wsConnectionCount;
  }

  private knobs: Knobs = defaultKnobs();
  private catalogue = new Map<string, ResolvedModel>();
  private readonly instances = new Map<string, Instance>();
  private readonly reserved = new Set<string>();
  private loadFault: LoadFault = null;
  private chatFault: ChatFault = null;
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
    if (opts.jit !== undefined) k.jit = opts.jit;
    if ("reply" in opts) k.reply = opts.reply;
    if (opts.tokensPerChunk !== undefined) k.tokensPerChunk = Math.max(1, Math.floor(opts.tokensPerChunk));
    if (opts.chunkDelayMs !== undefined) k.chunkDelayMs = Math.max(0, opts.chunkDelayMs);
    if (opts.firstChunkDelayMs !== undefined) k.firstChunkDelayMs = Math.max(0, opts.firstChunkDelayMs);
    if (opts.loadTimeMs !== undefined) k.loadTimeMs = Math.max(0, opts.loadTimeMs);
    if (opts.loadSteps !== undefined) k.loadSteps = Math.max(1, Math.floor(opts.loadSteps));
    if (opts.authError !== undefined) k.authError = opts.authError;
    if (opts.version !== undefined) k.version = opts.version;
    if (opts.statusCodes !== undefined) k.statusCodes = { ...k.statusCodes, ...opts.statusCodes };
    if (opts.mimicSilenceOnUnknownEndpoint !== undefined)
      k.mimicSilenceOnUnknownEndpoint = opts.mimicSilenceOnUnknownEndpoint;
    if (opts.maxChatRecords !== undefined) k.maxChatRecords = Math.max(1, opts.maxChatRecords);
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
    this.warnings.length = 0;
    this.calls.length = 0;
    this.wsConnectionCount = 0;
    this.unloadAll();
    this.loadFault = null;
    this.chatFault = null;
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

  preload(
    modelKey: string,
    opts: { identifier?: string; contextLength?: number; ttlMs?: number } = {},
  ): string {
    const model = this.findModel(modelKey);
    if (model === undefined) throw new Error(`Emulator catalogue has no model "${modelKey}"`);
    if (opts.identifier !== undefined && this.identifierTaken(opts.identifier)) {
      throw new Error(`Identifier "${opts.identifier}" is already in use`);
    }
    const identifier = opts.identifier ?? this.defaultIdentifier(model.modelKey);
    this.addInstance(model, identifier, opts.contextLength, opts.ttlMs ?? null);
    return identifier;
  }

  unloadAll(): void {
    for (const inst of this.instances.values()) clearTimeout(inst.ttlTimer);
    this.instances.clear();
  }

  private findModel(keyOrPath: string): ResolvedModel | undefined {
    const direct = this.catalogue.get(keyOrPath);
    if (direct !== undefined) return direct;
    const lower = keyOrPath.toLowerCase();
    for (const m of this.catalogue.values()) {
      if (m.path === keyOrPath || m.modelKey.toLowerCase() === lower) return m;
    }
    return undefined;
  }

  private identifierTaken(id: string): boolean {
    return this.instances.has(id) || this.reserved.has(id);
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
  ): Instance {
    const inst: Instance = {
      identifier,
      model,
      contextLength: contextLength ?? model.defaultContextLength,
      ttlMs,
      instanceReference: `inst-${this.idPrefix}-${++this.refCounter}`,
      lastUsedTime: null,
      ttlTimer: undefined,
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

  private touch(inst: Instance): void {
    inst.lastUsedTime = Date.now();
    inst.ttlTimer?.refresh();
  }

  private instanceInfo(inst: Instance): Record<string, unknown> {
    return {
      ...inst.model.info,
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
    const authError = this.knobs.authError;
    if (authError !== null) {
      this.send(session, { success: false, error: authError });
      session.ws.close();
      return;
    }
    if (
      msg.authVersion !== 1 ||
      typeof msg.clientIdentifier !== "string" ||
      typeof msg.clientPasskey !== "string"
    ) {
      this.send(session, { success: false, error: "Invalid authentication packet" });
      session.ws.close();
      return;
    }
    session.authed = true;
    this.send(session, { success: true });
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
            if (this.knobs.mimicSilenceOnUnknownEndpoint) {
              this.send(session, { type: "communicationWarning", warning: err.message });
              return;
            }
            this.send(session, { type: "rpcError", callId, error: new LmsError(err.message).serialized });
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
        const text = `Unknown endpoint "${endpoint}" in namespace "${session.namespace}"`;
        if (this.knobs.mimicSilenceOnUnknownEndpoint) {
          this.send(session, { type: "communicationWarning", warning: text });
          return;
        }
        this.send(session, {
          type: msg.type === "signalSubscribe" ? "signalError" : "writableSignalError",
          subscribeId: msg.subscribeId,
          error: new LmsError(text).serialized,
        });
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
          return [...this.catalogue.values()].map((m) => m.info);
        case "listDownloadedModelVariants": {
          const key = isObject(param) ? String(param.modelKey) : "";
          const m = this.findModel(key);
          if (m === undefined) throw this.pathNotFound(key, undefined);
          return [m.info];
        }
        case "version":
          return { version: this.knobs.version, build: 1 };
        case "notify":
          return undefined;
      }
      throw new UnknownEndpoint(endpoint, ns);
    }
    const domain = this.domainOf(session);
    if (domain === undefined) throw new UnknownEndpoint(endpoint, ns);
    const p = isObject(param) ? param : {};
    switch (endpoint) {
      case "listLoaded":
        return this.instancesOf(domain).map((i) => this.instanceInfo(i));
      case "unloadModel": {
        const identifier = String(p.identifier);
        const inst = this.instances.get(identifier);
        if (inst === undefined || inst.model.type !== domain)
          throw this.identifierNotFound(identifier, domain);
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
    const found =
      query.domain !== undefined && query.domain !== domain
        ? undefined
        : candidates.find(
            (i) =>
              (query.identifier === undefined || i.identifier === query.identifier) &&
              (query.path === undefined || i.model.modelKey === query.path || i.model.path === query.path) &&
              (query.vision === undefined || i.model.vision === query.vision),
          );
    if (found === undefined && throwIfNotFound) {
      throw new LmsError("No loaded model satisfies all requirements specified in the query.", {
        code: "generic.noModelMatchingQuery",
        query,
        loadedModelsSample: candidates.slice(0, SAMPLE).map((i) => i.identifier),
        totalLoadedModels: candidates.length,
      });
    }
    return found;
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

  private identifierNotFound(identifier: string, domain: ModelType): LmsError {
    const loaded = this.instancesOf(domain);
    return new LmsError(`Cannot find a model with identifier "${identifier}"`, {
      code: "generic.identifierNotFound",
      identifier,
      loadedModelsSample: loaded.slice(0, SAMPLE).map((i) => i.identifier),
      totalLoadedModels: loaded.length,
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

  private handleChannelCreate(session: Session, channelId: number, endpoint: string, param: unknown): void {
    const domain = this.domainOf(session);
    const p = isObject(param) ? param : {};
    const known =
      (domain !== undefined && (endpoint === "loadModel" || endpoint === "getOrLoad")) ||
      (session.namespace === "system" && endpoint === "alive");
    if (!known) {
      const text = `Unknown endpoint "${endpoint}" in namespace "${session.namespace}"`;
      if (this.knobs.mimicSilenceOnUnknownEndpoint) {
        this.send(session, { type: "communicationWarning", warning: text });
        return;
      }
      this.channelError(session, channelId, new LmsError(text));
      return;
    }
    const ch: ChannelState = { endpoint, timer: undefined, onCancel: undefined, onSocketClose: undefined };
    session.channels.set(channelId, ch);
    if (domain === undefined) return; // "alive": stays open until the socket closes
    const fields = configFields(p.loadConfigStack);
    const ctxField = fields.find((f) => f.key.endsWith(".contextLength"));
    const contextLength = typeof ctxField?.value === "number" ? ctxField.value : undefined;

    if (endpoint === "getOrLoad") {
      const key = String(p.identifier);
      const ttlMs = typeof p.loadTtlMs === "number" ? p.loadTtlMs : null;
      const byId = this.instances.get(key);
      const byKey = byId ?? [...this.instances.values()].find((i) => i.model.modelKey === key);
      if (byKey !== undefined) {
        if (byKey.model.type !== domain) {
          this.channelError(session, channelId, this.domainMismatch(key, byKey.model.type, domain));
          return;
        }
        this.touch(byKey);
        this.send(session, {
          type: "channelSend",
          channelId,
          message: { type: "alreadyLoaded", info: this.instanceInfo(byKey) },
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
      const identifier = this.defaultIdentifier(model.modelKey);
      this.runLoad(session, channelId, ch, rec, model, identifier, contextLength, ttlMs, true);
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
      this.failLoadEarly(
        session,
        channelId,
        rec,
        new LmsError(`Identifier "${requestedId}" is already in use`),
      );
      return;
    }
    const identifier = requestedId ?? this.defaultIdentifier(model.modelKey);
    this.runLoad(session, channelId, ch, rec, model, identifier, contextLength, ttlMs, false);
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
    const model = this.findModel(key);
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
    if (getOrLoad) sendMsg({ type: "startLoading", identifier: model.modelKey, info: model.info });
    else sendMsg({ type: "resolved", info: model.info });
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
      const inst = this.addInstance(model, identifier, contextLength, ttlMs);
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
    if (method === "POST" && (path === "/v1/chat/completions" || path === "/api/v0/chat/completions")) {
      this.readBody(req, (text) => this.handleChat(req, res, text));
      return;
    }
    if (method === "GET" && path === "/v1/models") {
      req.resume();
      sendJson(res, 200, JSON.stringify({ data: this.openaiModels(), object: "list" }));
      return;
    }
    if (method === "GET" && path === "/lmstudio-greeting") {
      req.resume();
      sendJson(res, 200, '{"lmstudio":true}');
      return;
    }
    req.resume();
    sendJson(
      res,
      200,
      JSON.stringify({ error: `Unexpected endpoint or method. (${method} ${path}). Returning 200 anyway` }),
    );
  };

  private readBody(req: IncomingMessage, cb: (text: string) => void): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      cb(
        chunks.length === 1 ? (chunks[0] as Buffer).toString("utf8") : Buffer.concat(chunks).toString("utf8"),
      );
    });
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

  private endChat(ctx: ChatCtx, outcome: ChatRecord["outcome"]): void {
    if (ctx.done) return;
    ctx.done = true;
    clearTimeout(ctx.timer);
    if (ctx.immediate !== undefined) clearImmediate(ctx.immediate);
    ctx.rec.outcome = outcome;
    ctx.rec.endedAt = performance.now();
    this.activeChats.delete(ctx);
  }

  private pushChat(rec: ChatRecord): void {
    if (this.chats.length >= this.knobs.maxChatRecords) {
      this.chats.splice(0, Math.ceil(this.chats.length / 2));
    }
    this.chats.push(rec);
  }

  private handleChat(req: IncomingMessage, res: ServerResponse, text: string): void {
    const rec: ChatRecord = {
      id: ++this.chatCounter,
      body: undefined,
      model: "",
      stream: false,
      outcome: "pending",
      chunksSent: 0,
      startedAt: performance.now(),
      status: 0,
      authorization: req.headers.authorization,
    };
    this.pushChat(rec);
    const ctx: ChatCtx = { rec, res, done: false, timer: undefined, immediate: undefined };
    this.activeChats.add(ctx);
    res.on("close", () => {
      if (!ctx.done) this.endChat(ctx, this.droppingAll ? "failed" : "cancelled");
    });
    const fail = (status: number, body: string): void => {
      rec.status = status;
      this.endChat(ctx, "failed");
      sendJson(res, status, body);
    };

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
    rec.stream = body.stream === true;

    const fault = this.chatFault;
    if (fault !== null) {
      this.chatFault = null;
      if (fault.kind === "hang") return;
      if (fault.afterChunks === undefined) {
        fail(fault.status, JSON.stringify(fault.body));
        return;
      }
    }

    if (!Array.isArray(body.messages)) {
      fail(400, JSON.stringify({ error: "'messages' field is required" }));
      return;
    }

    const inst = this.matchInstance(requested);
    if (inst !== undefined) {
      this.serveChat(ctx, body, inst, fault);
      return;
    }
    const codes = this.knobs.statusCodes;
    if (this.knobs.jit) {
      const model = requested === "" ? undefined : this.findModel(requested);
      if (model === undefined || model.type !== "llm") {
        fail(codes.modelNotFound, this.modelNotFoundBody(requested));
        return;
      }
      const imageProblem = findImageProblem(body.messages, model.vision);
      if (imageProblem !== null) {
        fail(
          imageProblem === "unsupported" ? codes.imagesNotSupported : codes.invalidImage,
          imageProblem === "unsupported" ? IMAGES_NOT_SUPPORTED : INVALID_IMAGE,
        );
        return;
      }
      this.jitLoad(ctx, body, model, fault);
      return;
    }
    if (this.instancesOf("llm").length === 0) {
      fail(
        codes.noModelsLoaded,
        JSON.stringify({
          error: { message: NO_MODELS_MESSAGE, type: "invalid_request_error", param: "model", code: null },
        }),
      );
      return;
    }
    fail(codes.modelNotFound, this.modelNotFoundBody(requested));
  }

  private modelNotFoundBody(requested: string): string {
    const examples = this.knobs.jit
      ? [...this.catalogue.values()].filter((m) => m.type === "llm").map((m) => m.modelKey)
      : this.instancesOf("llm").map((i) => i.identifier);
    return JSON.stringify({
      error: {
        message: `Invalid model identifier "${requested}". Please specify a valid downloaded model (e.g., ${examples.slice(0, 3).join(", ")}).`,
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found",
      },
    });
  }

  /** A request's `model` matches a loaded llm identifier, then a loaded llm's model key. Empty = any. */
  private matchInstance(requested: string): Instance | undefined {
    if (requested === "") {
      for (const i of this.instances.values()) if (i.model.type === "llm") return i;
      return undefined;
    }
    const byId = this.instances.get(requested);
    if (byId !== undefined) return byId.model.type === "llm" ? byId : undefined;
    for (const i of this.instances.values()) {
      if (i.model.type === "llm" && i.model.modelKey === requested) return i;
    }
    return undefined;
  }

  private jitLoad(ctx: ChatCtx, body: Record<string, unknown>, model: ResolvedModel, fault: ChatFault): void {
    const ttlMs = typeof body.ttl === "number" && body.ttl > 0 ? body.ttl * 1000 : null;
    const identifier = this.defaultIdentifier(model.modelKey);
    this.reserved.add(identifier);
    const rec: LoadRecord = {
      endpoint: "jit",
      modelKey: model.modelKey,
      identifier,
      ttlMs,
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
      const inst = this.addInstance(model, identifier, undefined, ttlMs);
      rec.outcome = "loaded";
      rec.endedAt = performance.now();
      if (!ctx.done) this.serveChat(ctx, body, inst, fault);
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

  private replyText(body: Record<string, unknown>, identifier: string): string {
    const r = this.knobs.reply;
    if (typeof r === "string") return r;
    if (typeof r === "function") return r(body);
    const said = lastUserText(body.messages);
    if (said === "") return `Hello from ${identifier}!`;
    const short = said.length > 80 ? `${said.slice(0, 80)}…` : said;
    return `Hello from ${identifier}! You said: ${short}`;
  }

  private serveChat(ctx: ChatCtx, body: Record<string, unknown>, inst: Instance, fault: ChatFault): void {
    const { rec, res } = ctx;
    const messages = body.messages as unknown[];
    rec.model = inst.identifier;
    const imageProblem = findImageProblem(messages, inst.model.vision);
    if (imageProblem !== null) {
      const codes = this.knobs.statusCodes;
      const status = imageProblem === "unsupported" ? codes.imagesNotSupported : codes.invalidImage;
      rec.status = status;
      this.endChat(ctx, "failed");
      sendJson(res, status, imageProblem === "unsupported" ? IMAGES_NOT_SUPPORTED : INVALID_IMAGE);
      return;
    }
    this.touch(inst);
    const allTokens = this.tokensFor(this.replyText(body, inst.identifier));
    const maxRaw = typeof body.max_tokens === "number" ? body.max_tokens : body.max_completion_tokens;
    const max = typeof maxRaw === "number" && maxRaw >= 0 ? Math.floor(maxRaw) : -1;
    const cut = max >= 0 && max < allTokens.length;
    const tokens = cut ? allTokens.slice(0, max) : allTokens;
    const finishReason = cut ? "length" : "stop";
    const tpc = this.knobs.tokensPerChunk;
    const pieces: string[] = [];
    for (let i = 0; i < tokens.length; i += tpc) {
      pieces.push(tpc === 1 ? (tokens[i] as string) : tokens.slice(i, i + tpc).join(""));
    }
    const promptTokens = countPromptWords(messages);
    const completionTokens = tokens.length;
    const usage = `{"prompt_tokens":${promptTokens},"completion_tokens":${completionTokens},"total_tokens":${promptTokens + completionTokens}}`;
    const id = `chatcmpl-${this.idPrefix}${rec.id.toString(36)}`;
    const created = Math.floor(Date.now() / 1000);
    const modelJson = JSON.stringify(inst.identifier);
    const afterChunks = fault?.kind === "fail" ? fault.afterChunks : undefined;
    const chunkDelay = this.knobs.chunkDelayMs;
    const firstDelay = this.knobs.firstChunkDelayMs;

    if (body.stream !== true) {
      const content = tokens.join("");
      const finishNonStream = (): void => {
        ctx.timer = undefined;
        if (ctx.done) return;
        rec.chunksSent = pieces.length;
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
        sendJson(
          res,
          200,
          `{"id":"${id}","object":"chat.completion","created":${created},"model":${modelJson},"choices":[{"index":0,"logprobs":null,"finish_reason":"${finishReason}","message":{"role":"assistant","content":${JSON.stringify(content)}}}],"usage":${usage},"stats":{},"system_fingerprint":${modelJson}}`,
        );
      };
      const total = firstDelay + chunkDelay * pieces.length;
      if (total > 0) ctx.timer = setTimeout(finishNonStream, total);
      else finishNonStream();
      return;
    }

    // streaming
    const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
    const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${modelJson},"system_fingerprint":${modelJson},"choices":[{"index":0,"delta":{`;
    const tail = `},"logprobs":null,"finish_reason":null}]}\n\n`;
    const ending =
      `${head}},"logprobs":null,"finish_reason":"${finishReason}"}]}\n\n` +
      (includeUsage
        ? `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${modelJson},"system_fingerprint":${modelJson},"choices":[],"usage":${usage}}\n\n`
        : "") +
      DONE_FRAME;
    if (pieces.length === 0) pieces.push("");
    const chunk = (i: number): string =>
      i === 0
        ? `${head}"role":"assistant","content":${JSON.stringify(pieces[0])}${tail}`
        : `${head}"content":${JSON.stringify(pieces[i])}${tail}`;
    rec.status = 200;
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
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
      res.end(`${pending}data: ${JSON.stringify(errBody)}\n\n`);
    };
    const step = (): void => {
      ctx.timer = undefined;
      ctx.immediate = undefined;
      if (ctx.done) return;
      if (chunkDelay === 0) {
        let buf = "";
        let n = 0;
        while (i < pieces.length && n < BATCH) {
          if (afterChunks !== undefined && i === afterChunks) {
            rec.chunksSent = i;
            applyFault(buf);
            return;
          }
          buf += chunk(i);
          i++;
          n++;
        }
        rec.chunksSent = i;
        if (i < pieces.length) {
          if (res.write(buf)) ctx.immediate = setImmediate(step);
          else res.once("drain", step);
          return;
        }
        if (afterChunks !== undefined && i === afterChunks) {
          applyFault(buf);
          return;
        }
        this.touch(inst);
        this.endChat(ctx, "finished");
        res.end(buf + ending);
        return;
      }
      if (afterChunks !== undefined && i === afterChunks) {
        applyFault("");
        return;
      }
      if (i < pieces.length) {
        const ok = res.write(chunk(i));
        i++;
        rec.chunksSent = i;
        if (ok) ctx.timer = setTimeout(step, chunkDelay);
        else res.once("drain", () => (ctx.timer = setTimeout(step, chunkDelay)));
        return;
      }
      this.touch(inst);
      this.endChat(ctx, "finished");
      res.end(ending);
    };
    if (firstDelay > 0) ctx.timer = setTimeout(step, firstDelay);
    else step();
  }
}

class UnknownEndpoint extends Error {
  constructor(endpoint: string, namespace: string) {
    super(`Unknown endpoint "${endpoint}" in namespace "${namespace}"`);
  }
}
