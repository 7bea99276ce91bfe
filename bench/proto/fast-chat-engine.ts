/**
 * Prototype of a faster src/lmstudio/chat-engine.ts (measured by bench/proto/compare.ts, used by
 * bench/proto/variant-main.ts with VARIANT=fast): the same engine, the same `openai` client
 * building and sending the request (auth, URL, status errors, retries off), but the SSE body is
 * read with `.asResponse()` and a small line parser instead of the client's `Stream` (six nested
 * async generators per chunk: ReadableStream iterator, iterSSEChunks, _iterSSEMessages, the Stream
 * iterator, normalizedChunks, plus a copy of every chunk). Cancellation is unchanged: the caller's
 * signal aborts the client's request, whose fetch destroys the upstream socket.
 */
import OpenAI, { APIError } from "openai";
import type { ChatCompletionChunk, ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { ServiceError } from "../../src/errors.ts";
import type { ChatEngineOptions } from "../../src/lmstudio/chat-engine.ts";
import { mapChatError, upstreamTimeout } from "../../src/lmstudio/map-lmstudio-error.ts";
import type { ChatEngine, ChatEvent, ChatRequest, ChatUsage } from "../../src/upstream/types.ts";

type Phase = "first_token" | "chunk";

/** Server-sent events from a byte stream: yields the `data` of each event, "[DONE]" included. */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let data: string | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let start = 0;
      for (;;) {
        const nl = buf.indexOf("\n", start);
        if (nl < 0) break;
        let line = buf.slice(start, nl);
        start = nl + 1;
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          // A blank line ends an event.
          if (data !== undefined) yield data;
          data = undefined;
        } else if (line.startsWith("data:")) {
          const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
          data = data === undefined ? v : `${data}\n${v}`;
        }
        // "event:", "id:", "retry:" and ":" comments carry nothing we use.
      }
      buf = buf.slice(start);
    }
    if (data !== undefined) yield data;
  } finally {
    reader.cancel().catch(() => {});
  }
}

export function createFastChatEngine(opts: ChatEngineOptions): ChatEngine {
  const client = new OpenAI({
    baseURL: opts.baseURL,
    apiKey: opts.apiKey,
    fetch: opts.fetch,
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
        return upstreamTimeout("the first token", opts.firstTokenTimeoutMs, error);
      if (timedOut === "chunk") return upstreamTimeout("the next chunk", opts.chunkTimeoutMs, error);
      return mapChatError(error, request.model);
    };

    let finished = false;
    try {
      let response: Response;
      try {
        response = await client.chat.completions
          .create(
            {
              model: request.model,
              messages: request.messages as ChatCompletionMessageParam[],
              ...request.params,
              stream: true,
              stream_options: { include_usage: true },
            },
            { signal: controller.signal },
          )
          .asResponse();
      } catch (error) {
        throw fail(error);
      }
      if (response.body === null) throw fail(new Error("LM Studio sent no body"));

      let model = request.model;
      let finishReason = "stop";
      let usage: ChatUsage | undefined;
      try {
        for await (const data of sseData(response.body)) {
          if (data === "[DONE]") break;
          const chunk = JSON.parse(data) as ChatCompletionChunk & { error?: unknown };
          if (chunk.error) throw new APIError(undefined, chunk.error as object, undefined, response.headers);
          const choice = chunk.choices?.[0];
          const content = choice?.delta?.content;
          if (phase === "chunk") {
            timer.refresh();
          } else if (content || choice?.finish_reason) {
            phase = "chunk";
            clearTimeout(timer);
            timer = setTimeout(onSilence, opts.chunkTimeoutMs);
          }
          if (chunk.model) model = chunk.model;
          if (chunk.usage) {
            usage = {
              promptTokens: chunk.usage.prompt_tokens,
              completionTokens: chunk.usage.completion_tokens,
              totalTokens: chunk.usage.total_tokens,
            };
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          if (content) yield { type: "delta", content };
        }
      } catch (error) {
        throw fail(error);
      }
      finished = true;
      yield { type: "end", model, finishReason, usage };
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onCallerAbort);
      if (!finished) controller.abort();
    }
  }

  return { stream };
}

/** Under its src/ name, for bench/proto/swap.ts. */
export const createChatEngine = createFastChatEngine;
