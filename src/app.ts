import cors from "@fastify/cors";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from "fastify";
import { createSerializerCompiler, jsonSchemaTransform } from "fastify-type-provider-zod";
import pino from "pino";
import { Admission } from "./chat/admission.ts";
import { ChatService } from "./chat/chat-service.ts";
import { createChatSchemas } from "./chat/schemas.ts";
import type { Config } from "./config.ts";
import { isServiceError, ServiceError } from "./errors.ts";
import { createApiKeyCheck } from "./http/auth.ts";
import { Lifecycle } from "./http/lifecycle.ts";
import { serverTiming } from "./http/server-timing.ts";
import { toFastApiDetails, zodValidatorCompiler } from "./http/validation.ts";
import { createLmStudioUpstream } from "./lmstudio/index.ts";
import { ModelService } from "./models/model-service.ts";
import { registerChatRoutes } from "./routes/chat.ts";
import { collectRoutes, registerDocRoutes } from "./routes/docs.ts";
import { registerHealthRoutes } from "./routes/health.ts";
import { registerModelRoutes } from "./routes/models.ts";
import type { Upstream } from "./upstream/types.ts";

export const VERSION = "0.1.0";
const PROGRESS_INTERVAL_MS = 100;

export interface AppOptions {
  /** Defaults to LM Studio at the configured URLs. */
  upstream?: (logger: FastifyBaseLogger) => Upstream;
  /** Pino destination override (tests capture logs). */
  logStream?: NodeJS.WritableStream;
}

export interface App {
  app: FastifyInstance;
  lifecycle: Lifecycle;
  upstream: Upstream;
}

const zodSerializer = createSerializerCompiler({});

/** Builds the whole service, without listening. */
export async function buildApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: ["req.headers.authorization", "req.headers.cookie"], censor: "[redacted]" },
      // Asynchronous writes: a burst of log lines costs one write, not one blocking syscall each.
      stream: opts.logStream ?? pino.destination({ dest: 1, sync: false }),
    },
    // One access line per request (below) instead of Fastify's two: logging was a third of the
    // service's CPU per chat in the benchmark.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    // Keep-alive sockets must not hold a shutdown open.
    forceCloseConnections: true,
    return503OnClosing: true,
  });

  // JSON only: Fastify's default text/plain parser would turn a text body into a 422 on "body".
  app.removeContentTypeParser("text/plain");
  app.setValidatorCompiler(zodValidatorCompiler);
  // Successful answers are checked against their schema; error bodies are ours and vary.
  app.setSerializerCompiler((route) => {
    if (!String(route.httpStatus).startsWith("2")) return (data) => JSON.stringify(data);
    return zodSerializer(route as Parameters<typeof zodSerializer>[0]);
  });

  const upstream = (opts.upstream ?? ((logger) => createLmStudioUpstream(config, logger)))(app.log);
  const lifecycle = new Lifecycle();
  const admission = new Admission({
    maxConcurrent: config.maxConcurrentChats,
    maxQueued: config.maxQueuedChats,
    queueTimeoutMs: config.queueTimeoutMs,
  });
  let chat: ChatService | undefined;
  const models = new ModelService(upstream.models, (m) => chat?.isBusy(m) ?? false);
  chat = new ChatService(upstream.chat, models, admission, {
    autoLoad: config.autoLoad,
    autoLoadExclusive: config.autoLoadExclusive,
    modelTtlSeconds: config.modelTtlSeconds,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
  });

  app.addHook("onClose", async () => {
    await upstream.close();
  });

  // Draining and auth come first: nothing else runs for a request we will not serve.
  const checkKey = config.apiKeys.length > 0 ? createApiKeyCheck(config.apiKeys) : undefined;
  app.addHook("onRequest", async (request, reply) => {
    lifecycle.track(reply.raw);
    reply.raw.once("close", () => {
      const res = reply.raw;
      request.log.info(
        {
          method: request.method,
          url: request.url,
          status: res.statusCode,
          ms: Math.round(reply.elapsedTime * 100) / 100,
          ...(!res.writableFinished && { aborted: true }),
        },
        "request",
      );
    });
    if (lifecycle.draining) {
      reply.header("connection", "close").header("retry-after", "5");
      throw new ServiceError(
        503,
        "shutting_down",
        "The service is shutting down; retry on another instance or later",
      );
    }
    if (
      checkKey &&
      request.routeOptions.url !== "/health" &&
      request.method !== "OPTIONS" &&
      !checkKey(request.headers.authorization)
    ) {
      reply.header("www-authenticate", 'Bearer realm="lmstudio-service"');
      throw new ServiceError(
        401,
        "unauthorized",
        "Missing or invalid API key: send Authorization: Bearer <key>",
      );
    }
    const encoding = request.headers["content-encoding"];
    if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
      throw new ServiceError(
        415,
        "invalid_request",
        `Content-Encoding "${encoding}" is not supported: send the body uncompressed`,
      );
    }
    const charset = /;\s*charset=([^;\s]+)/i
      .exec(request.headers["content-type"] ?? "")?.[1]
      ?.replace(/"/g, "");
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      throw new ServiceError(
        415,
        "invalid_request",
        `charset "${charset}" is not supported: send UTF-8 JSON`,
      );
    }
  });

  app.addHook("onSend", async (_request, reply, payload) => {
    if (!reply.hasHeader("server-timing")) reply.header("server-timing", serverTiming(reply.elapsedTime));
    return payload;
  });

  app.setErrorHandler((error: FastifyError | ServiceError, request, reply) => {
    if ("validation" in error && error.validation) {
      const { status, detail } = toFastApiDetails(error.validation, error.validationContext);
      return reply.code(status).send({ detail });
    }
    if (isServiceError(error)) {
      if (error.status >= 500 && error.code === "internal_error")
        request.log.error({ err: error.cause }, "internal error");
      else if (error.status >= 500) request.log.warn({ code: error.code }, error.message);
      const body =
        "detail" in error.extra ? error.extra : { detail: error.message, code: error.code, ...error.extra };
      return reply.code(error.status).headers(error.headers).send(body);
    }
    const status = typeof error.statusCode === "number" ? error.statusCode : 500;
    if (status === 415) {
      const type = request.headers["content-type"] ?? "none";
      return reply.code(415).send({
        detail: `Unsupported Media Type "${type}": send Content-Type: application/json`,
        code: error.code,
      });
    }
    if (error.code === "FST_ERR_CTP_INVALID_JSON_BODY") {
      // The parser drops its reason; a valid document with a "__proto__" key lands here too.
      return reply.code(400).send({
        detail: 'Body is not valid JSON (or it has a forbidden "__proto__" or "constructor" key)',
        code: error.code,
      });
    }
    if (status < 500) {
      // Fastify's own client errors: malformed JSON, empty body, body too large.
      return reply.code(status).send({ detail: error.message, code: error.code });
    }
    request.log.error({ err: error }, "unhandled error");
    return reply.code(500).send({ detail: "Internal server error", code: "internal_error" });
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send({ detail: `Not Found: ${request.method} ${request.url.split("?")[0]}`, code: "not_found" });
  });

  await app.register(cors, {
    origin: config.corsOrigins.includes("*") ? "*" : config.corsOrigins,
    // Credentials are only ever allowed for an explicit list of origins, never for "*".
    credentials: !config.corsOrigins.includes("*"),
    methods: ["GET", "POST", "OPTIONS"],
    exposedHeaders: ["server-timing", "retry-after"],
    maxAge: 600,
  });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "lmstudio-service",
        version: VERSION,
        description:
          "A clean HTTP API in front of local LLMs and VLMs served by LM Studio: model management " +
          "(load, unload, progress) and chat (text and vision, JSON or NDJSON streaming).",
      },
      tags: [
        { name: "chat", description: "Chat with text or images" },
        { name: "models", description: "Load, unload and list models" },
        { name: "health", description: "Liveness" },
        { name: "docs", description: "Documentation" },
      ],
      ...(checkKey && {
        components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
        security: [{ bearer: [] }],
      }),
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, {
    routePrefix: "/docs",
    uiConfig: { docExpansion: "list", deepLinking: true },
  });

  const documented = collectRoutes(app);
  registerHealthRoutes(app, { config, models });
  registerModelRoutes(app, { models, lifecycle, progressIntervalMs: PROGRESS_INTERVAL_MS });
  registerChatRoutes(app, { config, chat, schemas: createChatSchemas(config.maxImageBytes), lifecycle });
  registerDocRoutes(app, documented, VERSION);

  await app.ready();
  return { app, lifecycle, upstream };
}
