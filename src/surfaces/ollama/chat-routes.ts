import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ChatOutput, ChatService, ChatTimings } from "../../core/chat/chat-service.ts";
import type { ModelGate } from "../../core/models/model-gate.ts";
import { isServiceError, ServiceError, toServiceError } from "../../errors.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { beginNdjson, writeLine } from "../../http/ndjson.ts";
import type { ResponseFormat, SamplingParams, UpstreamMessage, UpstreamTool } from "../../upstreams/types.ts";
import { admission, admitBeforeBody } from "../common/admit-before-body.ts";
import { logServiceError } from "../common/log-service-error.ts";
import { finalCounters, toOllamaToolCalls } from "./convert-to-ollama.ts";
import {
  badRequest,
  generateToMessages,
  keepAliveSeconds,
  loadTtlSeconds,
  toResponseFormat,
  toSamplingParams,
  toUpstreamMessages,
} from "./convert-to-upstream.ts";
import { errorBody } from "./map-error.ts";
import { localName } from "./model-name.ts";
import { chatRequestSchema, generateRequestSchema, type OllamaOptions } from "./schemas.ts";

export interface ChatRouteDeps {
  chat: ChatService;
  models: ModelGate;
  lifecycle: Lifecycle;
  maxImageBytes: number;
}

type Kind = "chat" | "generate";

/** What both endpoints ask of a generation, once converted. */
interface Generation {
  kind: Kind;
  /** As the client named it: Ollama echoes it back. */
  model: string;
  messages: UpstreamMessage[] | undefined;
  params: SamplingParams;
  tools?: UpstreamTool[];
  responseFormat?: ResponseFormat;
  reasoning: boolean;
  keepAlive: number | undefined;
  numCtx: number | undefined;
  stream: boolean;
}

interface Common {
  model: string;
  format?: string | Record<string, unknown>;
  options?: OllamaOptions;
  keep_alive?: string | number;
  think?: boolean | "high" | "medium" | "low";
  logprobs?: boolean;
  top_logprobs?: number;
  stream: boolean;
}

function common(body: Common, kind: Kind) {
  if (body.logprobs || body.top_logprobs) {
    throw badRequest(
      "logprobs are not available through LM Studio's API: leave logprobs and top_logprobs out",
    );
  }
  const params = toSamplingParams(body.options);
  if (typeof body.think === "string") params.reasoning_effort = body.think;
  return {
    kind,
    model: body.model,
    params,
    responseFormat: toResponseFormat(body.format),
    reasoning: body.think !== false,
    keepAlive: keepAliveSeconds(body.keep_alive),
    numCtx: body.options?.num_ctx,
    stream: body.stream,
  };
}

const createdAt = () => new Date().toISOString();

/** One partial line (or the whole answer) in the endpoint's shape. */
function piece(
  g: Generation,
  text: string,
  extra: { thinking?: string; tool_calls?: ReturnType<typeof toOllamaToolCalls> },
) {
  if (g.kind === "generate") {
    return {
      model: g.model,
      created_at: createdAt(),
      response: text,
      ...(extra.thinking && { thinking: extra.thinking }),
    };
  }
  return {
    model: g.model,
    created_at: createdAt(),
    message: {
      role: "assistant",
      content: text,
      ...(extra.thinking && { thinking: extra.thinking }),
      ...(extra.tool_calls?.length && { tool_calls: extra.tool_calls }),
    },
  };
}

export function registerChatRoutes(app: FastifyInstance, deps: ChatRouteDeps): void {
  const { chat, models, lifecycle, maxImageBytes } = deps;
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const preParsing = admitBeforeBody(chat, lifecycle, "ollama");

  /** keep_alive 0: the model goes once the answer is complete, as Ollama does. */
  async function unloadAfter(request: FastifyRequest, name: string) {
    await models.unload(name).catch((error: unknown) => {
      if (isServiceError(error) && error.code === "nothing_to_unload") return;
      request.log.warn({ err: error, model: name }, "keep_alive 0: unloading after the answer failed");
    });
  }

  /** No prompt, no messages: load the model (or unload it, with keep_alive 0), as Ollama does. */
  async function loadOnly(g: Generation, request: FastifyRequest, reply: FastifyReply) {
    const { ticket, signal } = admission(request, reply);
    ticket.release();
    const name = localName(g.model);
    let reason = "load";
    if (g.keepAlive === 0) {
      await unloadAfter(request, name);
      reason = "unload";
    } else {
      await models.ensureLoaded({
        modelKey: name,
        signal,
        ttlSeconds: g.keepAlive === Number.POSITIVE_INFINITY ? undefined : g.keepAlive,
        ...(g.numCtx !== undefined && { contextLength: g.numCtx }),
      });
    }
    return { ...piece(g, "", {}), done: true, done_reason: reason };
  }

  function start(
    g: Generation & { messages: UpstreamMessage[] },
    request: FastifyRequest,
    reply: FastifyReply,
    wholeAnswer: boolean,
  ) {
    const { ticket, signal } = admission(request, reply);
    const timings: ChatTimings = { upstreamMs: 0 };
    const ttl = loadTtlSeconds(g.keepAlive);
    const events = chat.run(
      {
        model: localName(g.model),
        messages: g.messages,
        params: g.params,
        signal,
        timings,
        requestId: request.id,
        reasoning: g.reasoning,
        wholeAnswer,
        // With several upstreams, X-Upstream pins one (as on /v1).
        ...(typeof request.headers["x-upstream"] === "string" && { upstream: request.headers["x-upstream"] }),
        ...(g.tools?.length && { tools: g.tools }),
        ...(g.responseFormat && { responseFormat: g.responseFormat }),
        ...(ttl !== undefined && { ttlSeconds: ttl }),
        ...(g.numCtx !== undefined && { contextLength: g.numCtx }),
      },
      ticket,
    );
    return events;
  }

  async function whole(
    g: Generation & { messages: UpstreamMessage[] },
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    let content = "";
    let thinking = "";
    let pieces = 0;
    let calls: ReturnType<typeof toOllamaToolCalls> = [];
    for await (const event of start(g, request, reply, true)) {
      if (event.type === "delta") {
        content += event.content;
        pieces += event.pieces ?? 1;
      } else if (event.type === "reasoning") thinking += event.content;
      else if (event.type === "tool_calls") calls = toOllamaToolCalls(event.calls);
      else if (event.type === "end") {
        if (g.keepAlive === 0) await unloadAfter(request, event.model);
        return {
          ...piece(g, content, { thinking, tool_calls: calls }),
          done: true,
          ...finalCounters(event, reply.elapsedTime, pieces),
        };
      }
    }
    throw new ServiceError(502, "upstream_error", "The upstream ended the answer without finishing; retry");
  }

  async function streamed(
    g: Generation & { messages: UpstreamMessage[] },
    request: FastifyRequest,
    reply: FastifyReply,
  ) {
    const iterator = start(g, request, reply, false)[Symbol.asyncIterator]();
    // Headers wait for the first event so that failures before it get a real status code.
    let step = await iterator.next();
    const res = beginNdjson(reply);
    let pieces = 0;
    try {
      for (; !step.done; step = await iterator.next()) {
        const event: ChatOutput = step.value;
        let pending: Promise<void> | undefined;
        if (event.type === "delta") {
          pieces++;
          pending = writeLine(res, { ...piece(g, event.content, {}), done: false });
        } else if (event.type === "reasoning") {
          pending = writeLine(res, { ...piece(g, "", { thinking: event.content }), done: false });
        } else if (event.type === "tool_calls") {
          pending = writeLine(res, {
            ...piece(g, "", { tool_calls: toOllamaToolCalls(event.calls) }),
            done: false,
          });
        } else if (event.type === "end") {
          if (g.keepAlive === 0) await unloadAfter(request, event.model);
          writeLine(res, {
            ...piece(g, "", {}),
            done: true,
            ...finalCounters(event, reply.elapsedTime, pieces),
          });
        }
        if (pending) await pending;
      }
    } catch (error) {
      const e = lifecycle.shutdownSignal.aborted
        ? new ServiceError(503, "shutting_down", "The service is shutting down; retry")
        : toServiceError(error);
      logServiceError(request, e);
      writeLine(res, errorBody(e));
    } finally {
      res.end();
    }
  }

  async function answer(g: Generation, request: FastifyRequest, reply: FastifyReply) {
    if (g.messages === undefined) return loadOnly(g, request, reply);
    const withMessages = { ...g, messages: g.messages };
    if (!g.stream) return whole(withMessages, request, reply);
    await streamed(withMessages, request, reply);
    return reply;
  }

  typed.post(
    "/chat",
    {
      preParsing,
      schema: {
        summary: "Ollama: chat (NDJSON stream by default; stream:false for one object)",
        tags: ["ollama"],
        body: chatRequestSchema,
      },
    },
    async (request, reply) => {
      const body = request.body;
      const g: Generation = {
        ...common(body, "chat"),
        messages: body.messages?.length ? toUpstreamMessages(body.messages, maxImageBytes) : undefined,
        ...(body.tools?.length && { tools: body.tools as UpstreamTool[] }),
      };
      return answer(g, request, reply);
    },
  );

  typed.post(
    "/generate",
    {
      preParsing,
      schema: {
        summary: "Ollama: complete a prompt (NDJSON stream by default; stream:false for one object)",
        tags: ["ollama"],
        body: generateRequestSchema,
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.width !== undefined || body.height !== undefined || body.steps !== undefined) {
        throw badRequest(
          "image generation (width, height, steps) is not supported by LM Studio: leave them out",
        );
      }
      const g: Generation = {
        ...common(body, "generate"),
        messages: body.prompt || body.images?.length ? generateToMessages(body, maxImageBytes) : undefined,
      };
      return answer(g, request, reply);
    },
  );
}
