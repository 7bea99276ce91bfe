// upstreams/openai-compatible: any OpenAI-compatible server: the chat engine, SSE, fetch, errors.
import OpenAI, { APIError, APIUserAbortError } from "openai";
import type { ChatCompletionChunk } from "openai/resources/chat/completions";
import { piecesLength } from "../../byte-pieces.ts";
import { ServiceError } from "../../errors.ts";
import type { ChatEngine, ChatEvent, ChatRequest, ChatToolCall, ChatUsage } from "../types.ts";
import { upstreamTimeout } from "../upstream-errors.ts";
import type { ChatErrorMapper } from "./map-openai-error.ts";
import { type Chunk, ChunkReader } from "./parse-chunk.ts";
import { sseData } from "./parse-sse.ts";
import { type FetchFn, nodeBodyOf, withAbortSignal } from "./undici-fetch.ts";

export interface ChatEngineOptions {
  /** The upstream's name in messages. */
  name: string;
  baseURL: string;
  /** The setting that holds baseURL, for messages about a wrong URL. */
  baseUrlSetting: string;
  apiKey: string;
  fetch: FetchFn;
  firstTokenTimeoutMs: number;
  chunkTimeoutMs: number;
  mapError: ChatErrorMapper;
}

type Phase = "first_token" | "chunk";
/** The client's type of the options it hands to fetch. */
type FetchOptions = NonNullable<Awaited<Parameters<OpenAI["post"]>[1]>>["fetchOptions"];

/**
 * The upstream request's JSON, encoded here: the `openai` client sends a string body with a
 * content-type (or a Buffer) as it is, so the body is serialised once (the client's own encoder
 * observes every key), and a string is not copied into a Buffer either (undici writes it to the
 * socket). Always a stream (see below), with usage at its end. With blobs, the bytes of each go where
 * its key stands: the body is then pieces to send one after another, never joined.
 */
export function encodeChatBody(request: ChatRequest): string | Buffer[] {
  const text = JSON.stringify({
    model: request.model,
    messages: request.messages,
    ...request.params,
    ...(request.tools?.length && { tools: request.tools }),
    ...(request.responseFormat && { response_format: request.responseFormat }),
    stream: true,
    stream_options: { include_usage: true },
  });
  if (!request.blobs?.size) return text;
  const pieces: Buffer[] = [];
  let from = 0;
  for (const [key, bytes] of request.blobs) {
    // The key as JSON writes it, quotes excluded: the bytes are JSON string content too.
    const written = JSON.stringify(key).slice(1, -1);
    const at = text.indexOf(`"${written}"`, from);
    if (at < 0) continue;
    pieces.push(Buffer.from(text.slice(from, at + 1)), ...bytes);
    from = at + 1 + written.length;
  }
  pieces.push(Buffer.from(text.slice(from)));
  return pieces;
}

/** Adds a text event; for a caller that wants the answer whole, to the text of the same kind just before. */
function add(
  out: ChatEvent[],
  type: "delta" | "reasoning",
  content: string,
  whole: boolean | undefined,
): void {
  const last = out[out.length - 1];
  if (whole && last?.type === "delta" && type === "delta") {
    out[out.length - 1] = { type, content: last.content + content, pieces: (last.pieces ?? 1) + 1 };
  } else if (whole && last?.type === "reasoning" && type === "reasoning") {
    out[out.length - 1] = { type, content: last.content + content };
  } else out.push({ type, content });
}

/** The delta fields OpenAI's types lack: reasoning models' thoughts, as LM Studio streams them. */
type ReasoningDelta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string; reasoning?: string };

/**
 * Chat over an OpenAI-compatible endpoint (LM Studio's, vLLM's, llama-server's) with the official
 * client. Always streams
 * upstream (even for non-streaming callers) so that a caller going away cancels generation at once.
 */
export function createChatEngine(opts: ChatEngineOptions): ChatEngine {
  const client = new OpenAI({
    baseURL: opts.baseURL,
    apiKey: opts.apiKey,
    fetch: opts.fetch,
    // Retries are the gateway's decision, not the client's: a retried generation wastes the GPU.
    maxRetries: 0,
    timeout: opts.firstTokenTimeoutMs + opts.chunkTimeoutMs,
  });

  async function* stream(request: ChatRequest): AsyncGenerator<ChatEvent> {
    const controller = new AbortController();
    let timedOut: Phase | undefined;
    const onCallerAbort = () => controller.abort(request.signal.reason);
    if (request.signal.aborted) throw new ServiceError(499, "cancelled", "The request was cancelled");
    request.signal.addEventListener("abort", onCallerAbort, { once: true });

    let phase: Phase = "first_token";
    const onSilence = () => {
      timedOut = phase;
      controller.abort();
    };
    let timer = setTimeout(onSilence, opts.firstTokenTimeoutMs);

    const fail = (error: unknown): ServiceError => {
      if (timedOut === "first_token")
        return upstreamTimeout(opts.name, "the first token", opts.firstTokenTimeoutMs, error);
      if (timedOut === "chunk")
        return upstreamTimeout(opts.name, "the next chunk", opts.chunkTimeoutMs, error);
      // Reading an aborted body fails with the fetch layer's own error, not the client's.
      if (controller.signal.aborted) return opts.mapError(new APIUserAbortError(), request.model);
      return opts.mapError(error, request.model);
    };

    let finished = false;
    try {
      let response: Response;
      try {
        // The client sends the request (auth, URL, status errors); we encode the body (once, with
        // no replacer: the client's own encoder observes every key) and read the answer.
        const body = encodeChatBody(request);
        response = await client
          .post<unknown>("/chat/completions", {
            // Pieces go as a stream (the client passes an iterator through), with their length.
            body: typeof body === "string" ? body : body.values(),
            headers: {
              "content-type": "application/json",
              ...(typeof body !== "string" && {
                "content-length": String(piecesLength(body)),
              }),
              ...(request.requestId !== undefined && { "x-request-id": request.requestId }),
            },
            // Not `signal`: the client would join it to its own with AbortSignal.any per request.
            fetchOptions: withAbortSignal(controller.signal) as FetchOptions,
          })
          .asResponse();
      } catch (error) {
        throw fail(error);
      }
      const body = nodeBodyOf(response);
      if (body === null) throw fail(new Error("the upstream answered without a body"));
      if (!(response.headers.get("content-type") ?? "").includes("text/event-stream")) {
        throw await notAStream(response);
      }

      let model = request.model;
      let finishReason = "stop";
      let usage: ChatUsage | undefined;
      let ended = false;
      // Tool calls arrive in pieces (name first, arguments in slices), keyed by index.
      const calls: Array<ChatToolCall | undefined> = [];
      const chunks = new ChunkReader();
      try {
        // Events that arrived in one read are handled together and yielded after: one step for
        // them all through the layers above (and, for a caller that wants the answer whole, one
        // event per run of deltas).
        for await (const batch of sseData(body)) {
          const out: ChatEvent[] = [];
          let sawDone = false;
          let produced = false;
          let failed = false;
          let failure: unknown;
          try {
            for (const data of batch) {
              if (data === "[DONE]") {
                sawDone = true;
                break;
              }
              const chunk = readChunk(chunks, data);
              // A failure after the stream started arrives as an event with `error` (LM Studio does this).
              if (chunk.error) throw new APIError(undefined, chunk.error, undefined, response.headers);
              const choice = chunk.choices?.[0];
              const delta = choice?.delta as ReasoningDelta | undefined;
              const content = delta?.content;
              // LM Studio says `reasoning_content` (0.3.9), or `reasoning` for gpt-oss (0.3.23).
              const reasoning = delta?.reasoning_content ?? delta?.reasoning;
              for (const piece of delta?.tool_calls ?? []) {
                const call = calls[piece.index] ?? { id: "", name: "", arguments: "" };
                calls[piece.index] = call;
                if (piece.id) call.id = piece.id;
                if (piece.function?.name) call.name += piece.function.name;
                if (piece.function?.arguments) call.arguments += piece.function.arguments;
              }
              if (content || reasoning || delta?.tool_calls?.length || choice?.finish_reason) produced = true;
              if (chunk.model) model = chunk.model;
              if (chunk.usage) {
                usage = {
                  promptTokens: chunk.usage.prompt_tokens,
                  completionTokens: chunk.usage.completion_tokens,
                  totalTokens: chunk.usage.total_tokens,
                };
              }
              if (choice?.finish_reason) {
                finishReason = choice.finish_reason;
                ended = true;
              }
              if (reasoning && request.reasoning) add(out, "reasoning", reasoning, request.wholeAnswer);
              if (content) add(out, "delta", content, request.wholeAnswer);
            }
          } catch (error) {
            failed = true;
            failure = error;
          }
          // Once per read: the events of one read arrived together.
          if (phase === "chunk") {
            timer.refresh();
          } else if (produced) {
            // Prompt processing is over: from now on the budget is the silence between two chunks.
            phase = "chunk";
            clearTimeout(timer);
            timer = setTimeout(onSilence, opts.chunkTimeoutMs);
          }
          // What came before a failure in the same read still reaches the caller, as it would alone.
          for (const event of out) yield event;
          if (failed) throw failure;
          if (sawDone) {
            ended = true;
            break;
          }
        }
        // An aborted body may end quietly: a timeout or a caller gone must not look like an end.
        if (controller.signal.aborted) throw new APIUserAbortError();
      } catch (error) {
        throw fail(error);
      }
      // A stream cut short must not pass for a complete (possibly empty) answer.
      if (!ended) {
        throw new ServiceError(
          502,
          "upstream_error",
          `${opts.name} ended the answer before it was finished (no finish_reason, no [DONE]); retry`,
        );
      }
      const complete = calls.filter((c) => c !== undefined);
      if (complete.length > 0) {
        yield {
          type: "tool_calls",
          calls: complete.map((c, i) => ({ ...c, id: c.id || `call_${i}` })),
        };
      }
      finished = true;
      yield { type: "end", model, finishReason, usage };
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onCallerAbort);
      // A consumer that stopped early (client gone, shutdown) must not leave the upstream generating.
      if (!finished) controller.abort();
    }
  }

  /** An event's chunk; an event that is no JSON object is no OpenAI-compatible answer, said so. */
  function readChunk(chunks: ChunkReader, data: string): Chunk {
    let chunk: Chunk | undefined;
    try {
      chunk = chunks.read(data);
    } catch {
      // Not JSON: said below, with the data in the log only.
    }
    if (typeof chunk === "object" && chunk !== null && !Array.isArray(chunk)) return chunk;
    throw new ServiceError(
      502,
      "upstream_error",
      `${opts.name} sent an answer event that is not a JSON object: check that ${opts.baseUrlSetting} (${opts.baseURL}) points at an OpenAI-compatible server`,
      { cause: new Error(`event data: ${data.slice(0, 200)}`) },
    );
  }

  /** A 2xx that is not SSE: a wrong base URL (LM Studio answers unknown paths with 200), or a proxy. */
  async function notAStream(response: Response): Promise<ServiceError> {
    const text = await response.text().catch(() => "");
    const hint = /unexpected endpoint/i.test(text)
      ? `: it does not know the chat path, so ${opts.baseUrlSetting} (${opts.baseURL}) is probably wrong (it usually ends in /v1)`
      : `; check ${opts.baseUrlSetting} (${opts.baseURL})`;
    return new ServiceError(
      502,
      "upstream_error",
      `${opts.name} answered the chat with ${response.headers.get("content-type") ?? "no content type"}, not an event stream${hint}`,
      { cause: new Error(text.slice(0, 500)) },
    );
  }

  return { stream };
}
