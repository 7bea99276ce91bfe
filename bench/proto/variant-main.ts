/**
 * Prototyping only (not used by `npm run bench`): src/main.ts with another chat engine, to measure
 * where the service's time goes without editing src/. Same env as src/main.ts, plus VARIANT:
 *   src    the service's own upstream (createLmStudioUpstream): a sanity check against src/main.ts
 *   fake   no upstream call: 20 deltas and an end event straight away (cost of Fastify + routes)
 *   raw    undici request() + a hand-written SSE parser instead of the openai client
 *   whole  the openai client asking for a non-streamed completion (stream: false): one JSON body
 *          upstream instead of 23 SSE events (measure /chat only: /chat/stream gets one fragment)
 */
import OpenAI from "openai";
import type { ChatCompletionMessageParam } from "openai/resources/chat/completions";
import { request } from "undici";
import { buildApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { createLmStudioUpstream } from "../../src/lmstudio/index.ts";
import { createModelManager } from "../../src/lmstudio/model-manager.ts";
import { createUndiciFetch } from "../../src/lmstudio/undici-fetch.ts";
import type { ChatEngine, ChatEvent, ChatRequest } from "../../src/upstream/types.ts";

const config = loadConfig();
const variant = process.env.VARIANT ?? "src";

const fake: ChatEngine = {
  async *stream(req: ChatRequest): AsyncGenerator<ChatEvent> {
    for (let i = 1; i <= 20; i++) yield { type: "delta", content: `${i === 1 ? "" : " "}word${i}` };
    yield {
      type: "end",
      model: req.model,
      finishReason: "stop",
      usage: { promptTokens: 4, completionTokens: 20, totalTokens: 24 },
    };
  },
};

const raw: ChatEngine = {
  async *stream(req: ChatRequest): AsyncGenerator<ChatEvent> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    req.signal.addEventListener("abort", onAbort, { once: true });
    let finished = false;
    try {
      const res = await request(`${config.openaiBaseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${config.openaiApiKey}` },
        body: JSON.stringify({
          model: req.model,
          messages: req.messages,
          ...req.params,
          stream: true,
          stream_options: { include_usage: true },
        }),
        signal: ac.signal,
      });
      let buf = "";
      let model = req.model;
      let finishReason = "stop";
      let usage: { promptTokens: number; completionTokens: number; totalTokens: number } | undefined;
      for await (const chunk of res.body) {
        buf += (chunk as Buffer).toString("utf8");
        let nl = buf.indexOf("\n\n");
        while (nl >= 0) {
          const event = buf.slice(0, nl);
          buf = buf.slice(nl + 2);
          nl = buf.indexOf("\n\n");
          if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
          const data = JSON.parse(event.slice(6));
          if (data.model) model = data.model;
          if (data.usage) {
            usage = {
              promptTokens: data.usage.prompt_tokens,
              completionTokens: data.usage.completion_tokens,
              totalTokens: data.usage.total_tokens,
            };
          }
          const choice = data.choices?.[0];
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          if (choice?.delta?.content) yield { type: "delta", content: choice.delta.content };
        }
      }
      finished = true;
      yield { type: "end", model, finishReason, usage };
    } finally {
      req.signal.removeEventListener("abort", onAbort);
      if (!finished) ac.abort();
    }
  },
};

function wholeEngine(client: OpenAI): ChatEngine {
  return {
    async *stream(req: ChatRequest): AsyncGenerator<ChatEvent> {
      const ac = new AbortController();
      const onAbort = () => ac.abort();
      req.signal.addEventListener("abort", onAbort, { once: true });
      try {
        const c = await client.chat.completions.create(
          {
            model: req.model,
            messages: req.messages as ChatCompletionMessageParam[],
            ...req.params,
            stream: false,
          },
          { signal: ac.signal },
        );
        const choice = c.choices[0];
        if (choice?.message.content) yield { type: "delta", content: choice.message.content };
        yield {
          type: "end",
          model: c.model,
          finishReason: choice?.finish_reason ?? "stop",
          usage: c.usage && {
            promptTokens: c.usage.prompt_tokens,
            completionTokens: c.usage.completion_tokens,
            totalTokens: c.usage.total_tokens,
          },
        };
      } finally {
        req.signal.removeEventListener("abort", onAbort);
        ac.abort();
      }
    },
  };
}

const { app } = await buildApp(config, {
  upstream: (logger) => {
    if (variant === "src") return createLmStudioUpstream(config, logger);
    const models = createModelManager({
      baseUrl: config.lmstudioBaseUrl,
      sdkTimeoutMs: config.sdkTimeoutMs,
      loadTimeoutMs: config.loadTimeoutMs,
      logger,
    });
    const http = createUndiciFetch({
      connectTimeoutMs: config.connectTimeoutMs,
      socketTimeoutMs: Math.max(config.firstTokenTimeoutMs, config.chunkTimeoutMs) + 1_000,
    });
    return {
      models,
      chat:
        variant === "fake"
          ? fake
          : variant === "whole"
            ? wholeEngine(
                new OpenAI({
                  baseURL: config.openaiBaseUrl,
                  apiKey: config.openaiApiKey,
                  fetch: http.fetch,
                  maxRetries: 0,
                }),
              )
            : raw,
      close: () => Promise.all([models.close(), http.close()]).then(() => {}),
    };
  },
});
await app.listen({ host: config.host, port: config.port });
const stop = () => void app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
