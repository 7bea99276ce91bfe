import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ZodType } from "zod";
import type { Config } from "../../config.ts";
import type { ChatService, ChatTimings } from "../../core/chat/chat-service.ts";
import type { PassthroughService } from "../../core/passthrough/passthrough-service.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { admission, admitBeforeBody } from "../common/admit-before-body.ts";
import { defaultModel } from "./default-model.ts";
import { rawBody } from "./raw-json-body.ts";
import {
  chatCompletionsBody,
  completionsBody,
  embeddingsBody,
  errorSchema,
  type ForwardBody,
  messagesBody,
  passthroughAnswer,
  responsesBody,
} from "./schemas.ts";
import { sendForwarded } from "./send-forwarded.ts";
import { spliceModel } from "./splice-model.ts";

interface Endpoint {
  path: string;
  summary: string;
  body: ZodType;
  /** Request headers the upstream needs for this API (Anthropic's version and betas). */
  headers?: string[];
}

const ENDPOINTS: Endpoint[] = [
  {
    path: "/chat/completions",
    summary: "OpenAI chat completions (passed through)",
    body: chatCompletionsBody,
  },
  { path: "/completions", summary: "OpenAI text completions (passed through)", body: completionsBody },
  { path: "/embeddings", summary: "OpenAI embeddings (passed through)", body: embeddingsBody },
  { path: "/responses", summary: "OpenAI Responses API (passed through)", body: responsesBody },
  {
    path: "/messages",
    summary: "Anthropic Messages API (passed through; LM Studio 0.4.1+)",
    body: messagesBody,
    headers: ["anthropic-version", "anthropic-beta"],
  },
];

export interface ForwardRouteDeps {
  config: Config;
  chat: ChatService;
  passthrough: PassthroughService;
  lifecycle: Lifecycle;
}

const errors = {
  400: errorSchema,
  401: errorSchema,
  404: errorSchema,
  429: errorSchema,
  500: errorSchema,
  502: errorSchema,
  503: errorSchema,
  504: errorSchema,
};

export function registerForwardRoutes(app: FastifyInstance, deps: ForwardRouteDeps): void {
  const { config, chat, passthrough, lifecycle } = deps;
  const typed = app.withTypeProvider<ZodTypeProvider>();
  // The same admission as /chat: a slot (or the queue, or a 429) before the body is read.
  const preParsing = admitBeforeBody(chat, lifecycle, "openai");

  for (const endpoint of ENDPOINTS) {
    typed.post(
      endpoint.path,
      {
        preParsing,
        schema: {
          summary: endpoint.summary,
          description:
            "The body goes upstream byte for byte, with only `model` replaced (aliases, case, the default " +
            "model); the answer comes back unchanged. The model is loaded on demand first.",
          tags: ["openai"],
          body: endpoint.body,
          response: { 200: passthroughAnswer, ...errors },
        },
      },
      async (request, reply) => {
        const body = request.body as ForwardBody;
        const raw = rawBody(request);
        const { ticket, signal } = admission(request, reply);
        const timings: ChatTimings = { upstreamMs: 0 };
        const headers: Record<string, string> = {};
        for (const name of endpoint.headers ?? []) {
          const value = request.headers[name];
          if (typeof value === "string") headers[name] = value;
        }
        // With several upstreams, X-Upstream pins the request to one (ignored with one).
        const upstream = request.headers["x-upstream"];
        const outputs = passthrough.run(
          {
            path: endpoint.path,
            model: body.model ?? defaultModel(body, config),
            body: (model) => spliceModel(raw, model),
            headers,
            signal,
            timings,
            ...(typeof upstream === "string" && upstream.length > 0 && { upstream }),
          },
          ticket,
        );
        await sendForwarded(request, reply, outputs, { streaming: body.stream === true, timings, lifecycle });
      },
    );
  }
}
