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
  /** What the upstream says of the file, when it says it (LM Studio does; plain engines do not). */
  format?: string;
  architecture?: string;
  /** e.g. "4B" */
  paramsString?: string;
  /** e.g. "Q4_K_M" */
  quantization?: string;
  /** The model's path under the upstream's models folder. */
  path?: string;
  /** The LM Link device it lives on, when not this machine. */
  device?: string;
  /** Which upstream has it, when the service fronts several. */
  upstream?: string;
}

export interface LoadedModel extends DownloadedModel {
  identifier: string;
  contextLength: number;
  /** Idle time after which the upstream unloads it; null or undefined: never. */
  ttlMs?: number | null;
  /** When it last served a request (Unix ms), if the upstream says. */
  lastUsedTime?: number | null;
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
  compatibility?(): { compatible: boolean; reason?: string; checked?: boolean };
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

/** A tool call as OpenAI sends it: arguments are a JSON text. */
export interface UpstreamToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface UpstreamMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string | UpstreamContentPart[];
  /** Assistant messages that called tools. */
  tool_calls?: UpstreamToolCall[];
  /** Tool messages: the call they answer. */
  tool_call_id?: string;
}

/** A function the model may call (OpenAI's `tools` entries). */
export interface UpstreamTool {
  type: "function";
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** Structured output (OpenAI's `response_format`). */
export type ResponseFormat =
  | { type: "text" }
  | { type: "json_schema"; json_schema: { name: string; schema: Record<string, unknown>; strict?: boolean } };

export interface SamplingParams {
  temperature?: number;
  max_tokens?: number;
  top_p?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
  seed?: number;
  stop?: string[];
  /** For reasoning models that take it (gpt-oss): "low" | "medium" | "high". */
  reasoning_effort?: "low" | "medium" | "high";
}

/**
 * Long strings kept as the bytes they arrived in (images of megabytes): wherever a string of
 * `messages` equals a key, the upstream gets these bytes (JSON string content) in its place.
 */
export type Blobs = ReadonlyMap<string, readonly Buffer[]>;

export interface ChatRequest {
  model: string;
  messages: UpstreamMessage[];
  blobs?: Blobs;
  /**
   * The caller wants the answer whole, not as it comes: text that arrives together may come as one
   * event (fewer steps per chat). Streaming callers leave it out and get each upstream delta.
   */
  wholeAnswer?: boolean;
  params: SamplingParams;
  /** Aborting it must stop the generation upstream. */
  signal: AbortSignal;
  /** Sent upstream as X-Request-Id where the protocol has headers, to correlate both sides' logs. */
  requestId?: string;
  tools?: UpstreamTool[];
  responseFormat?: ResponseFormat;
  /** Report the model's reasoning as `reasoning` events (otherwise it is dropped). */
  reasoning?: boolean;
  /** The upstream it must go to, when the service fronts several (ignored with one). */
  upstream?: string;
}

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** A complete tool call from the stream, its arguments still as the model wrote them (JSON text). */
export interface ChatToolCall {
  id: string;
  name: string;
  arguments: string;
}

export type ChatEvent =
  /** `pieces`: how many upstream deltas the text joins, when more than one (see wholeAnswer). */
  | { type: "delta"; content: string; pieces?: number }
  | { type: "reasoning"; content: string }
  | { type: "tool_calls"; calls: ChatToolCall[] }
  | { type: "end"; model: string; finishReason: string; usage: ChatUsage | undefined };

export interface ChatEngine {
  /**
   * Streams one completion. Errors before the first event and during the stream are thrown as
   * ServiceErrors; the iterator's return() (a consumer that stops early) cancels upstream.
   * A model the upstream does not have loaded fails with code "model_not_loaded".
   */
  stream(request: ChatRequest): AsyncIterable<ChatEvent>;
}

export interface EmbeddingRequest {
  model: string;
  input: string[];
  signal: AbortSignal;
}

export interface EmbeddingResult {
  model: string;
  embeddings: number[][];
  promptTokens: number | undefined;
}

export interface EmbeddingEngine {
  /** Same error contract as ChatEngine.stream: ServiceErrors, "model_not_loaded" when it is not. */
  embed(request: EmbeddingRequest): Promise<EmbeddingResult>;
}

export interface DownloadProgress {
  downloadedBytes: number;
  totalBytes: number;
}

export interface DownloadOptions {
  /** The name in the upstream's catalogue (LM Studio: a model key such as "qwen/qwen3-8b"). */
  name: string;
  onProgress: (progress: DownloadProgress) => void;
  /** The bytes are in; the upstream is checking and indexing them. */
  onFinalizing: () => void;
}

export interface ModelDownloader {
  /** Downloads the model; resolves to its model key. Not cancellable (see the LM Studio one). */
  download(opts: DownloadOptions): Promise<{ modelKey: string }>;
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
  /** Absent when the upstream serves no embeddings. */
  readonly embeddings?: EmbeddingEngine;
  /** Absent when the upstream cannot download models. */
  readonly downloads?: ModelDownloader;
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
  /** The body's bytes in pieces, sent one after another (never joined: a body may be megabytes). */
  body?: readonly Buffer[];
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
