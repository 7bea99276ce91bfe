// surfaces/reference: the reference API (the FastAPI original's paths, shapes, errors, NDJSON).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "../../config.ts";
import type { ChatOutput, ChatService, ChatTimings } from "../../core/chat/chat-service.ts";
import { ServiceError, toServiceError } from "../../errors.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { beginNdjson, writeLine } from "../../http/ndjson.ts";
import { withRequestId } from "../../http/request-id.ts";
import { serverTiming } from "../../http/server-timing.ts";
import { admission, admitBeforeBody } from "../common/admit-before-body.ts";
import { logServiceError } from "../common/log-service-error.ts";
import { type ChatBody, type ChatSchemas, chatResponseSchema, streamLineSchema } from "./chat-schemas.ts";
import { convertToUpstreamMessages, hasImages, toSamplingParams } from "./convert-to-upstream-messages.ts";
import { chatErrors } from "./error-schemas.ts";
import { keptImages } from "./keep-images-as-bytes.ts";

type Kind = "generic" | "regular" | "vision";

const ROUTES: Array<{ kind: Kind; path: string; summary: string }> = [
  {
    kind: "generic",
    path: "/chat",
    summary: "Chat with any model (model_key), or the default for the content",
  },
  { kind: "regular", path: "/chat/regular", summary: "Text-only chat with DEFAULT_REGULAR_MODEL" },
  {
    kind: "vision",
    path: "/chat/vision",
    summary: "Vision chat with DEFAULT_VISION_MODEL and base64 images",
  },
];

export interface ChatRouteDeps {
  config: Config;
  chat: ChatService;
  schemas: ChatSchemas;
  lifecycle: Lifecycle;
}

function pickModel(kind: Kind, body: ChatBody, config: Config): string {
  if (body.model_key) return body.model_key;
  if (kind === "vision") return config.defaultVisionModel;
  if (kind === "regular") return config.defaultRegularModel;
  return hasImages(body.messages) ? config.defaultVisionModel : config.defaultRegularModel;
}

function rejectImagesOnRegular(body: ChatBody): void {
  const i = body.messages.findIndex((m) => (m.images?.length ?? 0) > 0);
  if (i < 0) return;
  throw new ServiceError(422, "invalid_request", "Images are not accepted here", {
    extra: {
      detail: [
        {
          loc: ["body", "messages", i, "images"],
          msg: "/chat/regular is text-only: send messages with images to /chat/vision (or /chat)",
          type: "value_error.images_not_allowed",
        },
      ],
    },
  });
}

const doneLine = (end: Extract<ChatOutput, { type: "end" }>, fragments: number) => ({
  model: end.model,
  predicted_tokens: end.usage?.completionTokens ?? fragments,
  stop_reason: end.finishReason,
  ...usageAndTimings(end),
});

function usageAndTimings(end: Extract<ChatOutput, { type: "end" }>) {
  const t: ChatTimings = end.timings;
  const completion = end.usage?.completionTokens;
  const seconds = (t.generationMs ?? 0) / 1000;
  return {
    ...(end.usage && { prompt_tokens: end.usage.promptTokens, total_tokens: end.usage.totalTokens }),
    time_to_first_token_ms: t.timeToFirstTokenMs,
    generation_ms: t.generationMs,
    ...(completion !== undefined &&
      seconds > 0 && { tokens_per_second: Math.round((completion / seconds) * 100) / 100 }),
    ...(t.queueMs !== undefined && { queue_ms: t.queueMs }),
    ...(t.loadMs !== undefined && { load_ms: t.loadMs }),
  };
}

const plainJson = () => (data: unknown) => JSON.stringify(data);

export function registerChatRoutes(app: FastifyInstance, deps: ChatRouteDeps): void {
  const { config, chat, schemas, lifecycle } = deps;
  const typed = app.withTypeProvider<ZodTypeProvider>();

  const start = (
    kind: Kind,
    body: ChatBody,
    request: FastifyRequest,
    reply: FastifyReply,
    whole: boolean,
  ) => {
    if (kind === "regular") rejectImagesOnRegular(body);
    const { ticket, signal } = admission(request, reply);
    const timings: ChatTimings = { upstreamMs: 0 };
    const { messages, blobs } = convertToUpstreamMessages(body.messages, keptImages(request));
    const events = chat.run(
      {
        model: pickModel(kind, body, config),
        messages,
        ...(blobs && { blobs }),
        wholeAnswer: whole,
        params: toSamplingParams(body.config),
        signal,
        timings,
        requestId: request.id,
        // Reasoning models' thoughts: their own lines and field, beside the reference's.
        reasoning: true,
        ...(body.upstream !== undefined && { upstream: body.upstream }),
      },
      ticket,
    );
    return { events, timings };
  };
  const preParsing = admitBeforeBody(chat, lifecycle, "reference");

  for (const route of ROUTES) {
    typed.post(
      route.path,
      {
        preParsing,
        // The answer is built here from typed parts: checking it again with zod costs every chat.
        serializerCompiler: plainJson,
        schema: {
          summary: route.summary,
          tags: ["chat"],
          body: route.kind === "vision" ? schemas.visionRequest : schemas.request,
          response: { 200: chatResponseSchema, ...chatErrors },
        },
      },
      async (request, reply) => {
        const { events, timings } = start(route.kind, request.body, request, reply, true);
        let content = "";
        let reasoning = "";
        let fragments = 0;
        for await (const event of events) {
          if (event.type === "delta") {
            content += event.content;
            fragments += event.pieces ?? 1;
          } else if (event.type === "reasoning") {
            reasoning += event.content;
          } else if (event.type === "end") {
            reply.header("server-timing", serverTiming(reply.elapsedTime, timings));
            return { ...doneLine(event, fragments), content, ...(reasoning && { reasoning }) };
          }
        }
        throw new ServiceError(
          502,
          "upstream_error",
          "The upstream ended the answer without finishing; retry",
        );
      },
    );

    typed.post(
      `${route.path}/stream`,
      {
        preParsing,
        schema: {
          summary: `${route.summary}, streamed as NDJSON`,
          description:
            "NDJSON: `progress` lines while a model loads on demand, `fragment` lines, then one `done` " +
            "line (or one `error` line if the stream fails after it started).",
          tags: ["chat"],
          body: route.kind === "vision" ? schemas.visionRequest : schemas.request,
          response: {
            200: {
              description: "One JSON object per line",
              content: { "application/x-ndjson": { schema: streamLineSchema } },
            },
            ...chatErrors,
          },
        },
      },
      async (request, reply) => {
        const { events, timings } = start(route.kind, request.body, request, reply, false);
        const iterator = events[Symbol.asyncIterator]();
        // Headers wait for the first event so that failures before it get a real status code.
        let step = await iterator.next();
        // The header says what the first line cost; the trailer, the whole stream.
        const res = beginNdjson(reply, {
          "server-timing": serverTiming(reply.elapsedTime, timings),
          trailer: "server-timing",
        });
        let fragments = 0;
        try {
          for (; !step.done; step = await iterator.next()) {
            const event = step.value;
            let pending: Promise<void> | undefined;
            if (event.type === "delta") {
              fragments++;
              pending = writeLine(res, { type: "fragment", content: event.content });
            } else if (event.type === "reasoning") {
              pending = writeLine(res, { type: "reasoning", content: event.content });
            } else if (event.type === "progress") {
              pending = writeLine(res, { type: "progress", stage: "load", progress: event.progress });
            } else if (event.type === "end") {
              writeLine(res, { type: "done", ...doneLine(event, fragments) });
            }
            if (pending) await pending;
          }
        } catch (error) {
          const e = lifecycle.shutdownSignal.aborted
            ? new ServiceError(503, "shutting_down", "The service is shutting down; retry")
            : toServiceError(error);
          logServiceError(request, e);
          writeLine(res, {
            type: "error",
            error: withRequestId({ code: e.code, message: e.message }, request),
          });
        } finally {
          if (!res.destroyed) res.addTrailers({ "server-timing": serverTiming(reply.elapsedTime, timings) });
          res.end();
        }
      },
    );
  }
}
