import OpenAI, { APIError, APIUserAbortError } from "openai";
import type { ChatCompletionChunk, ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { ServiceError } from "../errors.ts";
import type { ChatEngine, ChatEvent, ChatRequest, ChatUsage } from "../upstream/types.ts";
import { mapChatError, upstreamTimeout } from "./map-lmstudio-error.ts";
import { sseData } from "./parse-sse.ts";
import type { FetchFn } from "./undici-fetch.ts";

export interface ChatEngineOptions {
  baseURL: string;
  apiKey: string;
  fetch: FetchFn;
  firstTokenTimeoutMs: number;
  chunkTimeoutMs: number;
}

type Phase = "first_token" | "chunk";

/**
 * Chat over LM Studio's OpenAI-compatible endpoint with the official client. Always streams
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
        return upstreamTimeout("the first token", opts.firstTokenTimeoutMs, error);
      if (timedOut === "chunk") return upstreamTimeout("the next chunk", opts.chunkTimeoutMs, error);
      // Reading an aborted body fails with the fetch layer's own error, not the client's.
      if (controller.signal.aborted) return mapChatError(new APIUserAbortError(), request.model);
      return mapChatError(error, request.model);
    };

    let finished = false;
    try {
      let response: Response;
      try {
        // The client builds and sends the request (auth, URL, status errors); we read the body.
        response = await client.chat.completions
          .create(
            {
              model: request.model,
              // Same wire shape; the client's types just split it per role.
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
      if (response.body === null) throw fail(new Error("LM Studio answered without a body"));

      let model = request.model;
      let finishReason = "stop";
      let usage: ChatUsage | undefined;
      try {
        for await (const data of sseData(response.body)) {
          if (data === "[DONE]") break;
          const chunk = JSON.parse(data) as ChatCompletionChunk & { error?: object };
          // LM Studio reports a failure after the stream started as an event with `error`.
          if (chunk.error) throw new APIError(undefined, chunk.error, undefined, response.headers);
          const choice = chunk.choices?.[0];
          const content = choice?.delta?.content;
          if (phase === "chunk") {
            timer.refresh();
          } else if (content || choice?.finish_reason) {
            // Prompt processing is over: from now on the budget is the silence between two chunks.
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
        // An aborted body may end quietly: a timeout or a caller gone must not look like an end.
        if (controller.signal.aborted) throw new APIUserAbortError();
      } catch (error) {
        throw fail(error);
      }
      finished = true;
      yield { type: "end", model, finishReason, usage };
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onCallerAbort);
      // A consumer that stopped early (client gone, shutdown) must not leave LM Studio generating.
      if (!finished) controller.abort();
    }
  }

  return { stream };
}
