/**
 * Upstreams: the one interface the core needs from an inference server. LM Studio implements it in
 * lmstudio/, a plain OpenAI-compatible engine (vLLM, llama-server) in openai-compatible/. What an
 * upstream cannot do, it says in its capabilities; the core asks them instead of the upstream's kind.
 */

export type ModelType = "llm" | "embedding";

export interface DownloadedModel {
  modelKey: string;
  type: ModelType;
  displayName: string;
  vision: boolean;
  trainedForToolUse: boolean;
  maxContextLength: number;
  sizeBytes: number;
  /** Which upstream has it, when the service fronts several. */
  upstream?: string;
}

export interface LoadedModel extends DownloadedModel {
  identifier: string;
  contextLength: number;
}

export interface LoadOptions {
  modelKey: string;
  /** Which kind of model the key names (from the downloaded list); "llm" when unknown. */
  type?: ModelType;
  identifier?: string;
  contextLength?: number;
  ttlSeconds?: number;
  signal?: AbortSignal;
  onProgress?: (progress: number) => void;
  /** The upstream to load it on, when the service fronts several (ignored with one). */
  upstream?: string;
}

/** What an upstream can do beyond listing what it serves and chatting. */
export interface UpstreamCapabilities {
  /** It knows models on disk that are not loaded (else "downloaded" means "loaded"). */
  listDownloaded: boolean;
  /** It loads and unloads models on request; otherwise the engine manages its models itself. */
  loadUnload: boolean;
  /** Its loads report progress. */
  loadProgress: boolean;
}

export interface ModelManager {
  /** The upstream's version string; throws a ServiceError when it cannot be reached. */
  version(): Promise<string>;
  listLoaded(): Promise<LoadedModel[]>;
  /** Only called when `capabilities.listDownloaded`. */
  listDownloaded(): Promise<DownloadedModel[]>;
  /** Only called when `capabilities.loadUnload`. */
  load(opts: LoadOptions): Promise<LoadedModel>;
  /** Only called when `capabilities.loadUnload`. */
  unload(model: { identifier: string; type: ModelType; upstream?: string }): Promise<void>;
  /** Whether the upstream's version speaks the protocol we expect; assumed so when absent. */
  compatibility?(): { compatible: boolean; reason?: string };
  /**
   * Where a load of `modelKey` would go (the upstream's name), when there are several to choose
   * from: so that an exclusive load unloads the others on that upstream only. Throws a
   * ServiceError when `pinned` cannot load it.
   */
  place?(modelKey: string, pinned: string | undefined): Promise<string>;
}

/** An OpenAI chat message as sent upstream. */
export type UpstreamContentPart =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string } };

export interface UpstreamMessage {
  role: "system" | "user" | "assistant";
  content: string | UpstreamContentPart[];
}

export interface SamplingParams {
  temperature?: number;
  max_tokens?: number;
  top_p?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
}

export interface ChatRequest {
  model: string;
  messages: UpstreamMessage[];
  params: SamplingParams;
  /** Aborting it must stop the generation upstream. */
  signal: AbortSignal;
  /** The upstream it must go to, when the service fronts several (ignored with one). */
  upstream?: string;
}

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export type ChatEvent =
  | { type: "delta"; content: string }
  | { type: "end"; model: string; finishReason: string; usage: ChatUsage | undefined };

export interface ChatEngine {
  /**
   * Streams one completion. Errors before the first event and during the stream are thrown as
   * ServiceErrors; the iterator's return() (a consumer that stops early) cancels upstream.
   * A model the upstream does not have loaded fails with code "model_not_loaded".
   */
  stream(request: ChatRequest): AsyncIterable<ChatEvent>;
}

export interface Upstream {
  /** How messages name it: "LM Studio", or the configured name of an engine. */
  readonly name: string;
  readonly capabilities: UpstreamCapabilities;
  readonly models: ModelManager;
  readonly chat: ChatEngine;
  /** A check at start-up of the settings that point at the upstream: a warning to log, if any. */
  probe?(): Promise<string | undefined>;
  /** Raw forwarding to its OpenAI-compatible API, when it has one (the /v1 gateway needs it). */
  readonly passthrough?: Passthrough;
  /** Each upstream's state, when the service fronts several (for /health). */
  status?(): UpstreamStatus[];
  close(): Promise<void>;
}

/** One upstream of several, as /health shows it. */
export interface UpstreamStatus {
  name: string;
  kind: "lmstudio" | "openai";
  url: string;
  /** "unknown" until the first check. */
  state: "up" | "down" | "unknown";
  version?: string;
  chatsInFlight: number;
  capacity: number;
  weight: number;
  lastError?: string;
}

/** One request forwarded as bytes to the upstream's OpenAI-compatible API (a pass-through). */
export interface RawRequest {
  /** The path below the OpenAI-compatible base URL, e.g. "/chat/completions". */
  path: string;
  method: "GET" | "POST";
  body?: Buffer;
  /** Headers the client sent that the upstream needs (e.g. anthropic-version); never credentials. */
  headers?: Record<string, string>;
  /** The model the body names, for error messages. */
  model: string;
  /** Aborting it stops the generation upstream. */
  signal: AbortSignal;
  /** The upstream it must go to, when the service fronts several (ignored with one). */
  upstream?: string;
}

/** A successful upstream answer, its body still to be read; failures are thrown as ServiceErrors. */
export interface RawResponse {
  status: number;
  /** Only the headers worth passing on (content type, length, cache control). */
  headers: Record<string, string>;
  /** The body exactly as the upstream sent it. Stopping early (return()) cancels upstream. */
  body: AsyncIterable<Buffer>;
}

/**
 * Forwards one request unchanged. Errors before the first body byte are thrown (mapped and
 * reworded as for chat: a model not loaded is "model_not_loaded"); errors while the body streams
 * are thrown by the body's iterator.
 */
export type Passthrough = (request: RawRequest) => Promise<RawResponse>;
