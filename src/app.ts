/**
 * The service, composed: cross-cutting plugins (lifecycle, access log, keys, body checks, docs),
 * the core (model gate, admission, chats) over one upstream, and the API surfaces on top.
 */
import { createRequire } from "node:module";
import cors from "@fastify/cors";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { createSerializerCompiler } from "fastify-type-provider-zod";
import pino from "pino";
import type { Config } from "./config.ts";
import { ActiveChats } from "./core/chat/active-chats.ts";
import { Admission } from "./core/chat/admission.ts";
import { ChatService } from "./core/chat/chat-service.ts";
import { ModelSlots } from "./core/chat/model-slots.ts";
import { EmbeddingService } from "./core/embeddings/embedding-service.ts";
import { PrometheusMetrics } from "./core/metrics/prometheus-metrics.ts";
import { ModelDownloads } from "./core/models/model-downloads.ts";
import { ModelGate } from "./core/models/model-gate.ts";
import { PassthroughService } from "./core/passthrough/passthrough-service.ts";
import { BodyBuffers } from "./http/body-buffers.ts";
import { fromFastifyError } from "./http/fastify-errors.ts";
import { Lifecycle } from "./http/lifecycle.ts";
import { REQUEST_ID_HEADER, requestIdOf, withRequestId } from "./http/request-id.ts";
import { zodValidatorCompiler } from "./http/validation.ts";
import { accessLogPlugin } from "./plugins/access-log.ts";
import { authPlugin } from "./plugins/auth.ts";
import { bigBodiesPlugin, exposedCollector } from "./plugins/big-bodies.ts";
import { bodyChecksPlugin } from "./plugins/body-checks.ts";
import { docsPlugin, isDocsPath } from "./plugins/docs.ts";
import { lifecyclePlugin } from "./plugins/lifecycle.ts";
import { httpMetricsPlugin, registerMetricsRoute } from "./plugins/metrics.ts";
import { requestIdPlugin } from "./plugins/request-id.ts";
import { serverTimingPlugin } from "./plugins/server-timing.ts";
import { ollamaApi } from "./surfaces/ollama/index.ts";
import { openAiApi } from "./surfaces/openai/index.ts";
import { isPlaygroundPath, playground } from "./surfaces/playground/index.ts";
import { referenceApi } from "./surfaces/reference/index.ts";
import { createUpstream } from "./upstreams/create-upstream.ts";
import type { Upstream } from "./upstreams/types.ts";

const PROGRESS_INTERVAL_MS = 100;

export interface AppOptions {
  /** Defaults to the configured upstream (LM Studio at the configured URLs). */
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

/** pino-pretty, loaded only for LOG_FORMAT=pretty: it adds 11 MB of RSS to every service. */
const loadPretty = (): typeof import("pino-pretty") => createRequire(import.meta.url)("pino-pretty");

/** Builds the whole service, without listening. */
export async function buildApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: ["req.headers.authorization", "req.headers.cookie"], censor: "[redacted]" },
      // Asynchronous writes: a burst of log lines costs one write, not one blocking syscall each.
      stream:
        opts.logStream ??
        (config.logFormat === "pretty"
          ? loadPretty()({
              colorize: process.stdout.isTTY,
              singleLine: true,
              translateTime: "SYS:HH:MM:ss.l",
              ignore: "pid,hostname",
            })
          : pino.destination({ dest: 1, sync: false })),
    },
    // The client's X-Request-Id when well-formed (else a UUID): on every log line, answer and error.
    genReqId: requestIdOf,
    requestIdHeader: false,
    // One access line per request (the access-log plugin) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    // Keep-alive sockets must not hold a shutdown open.
    forceCloseConnections: true,
    return503OnClosing: true,
  });

  app.setValidatorCompiler(zodValidatorCompiler);
  // Successful answers are checked against their schema; error bodies are ours and vary.
  app.setSerializerCompiler((route) => {
    if (!String(route.httpStatus).startsWith("2")) return (data) => JSON.stringify(data);
    return zodSerializer(route as Parameters<typeof zodSerializer>[0]);
  });
  // Errors outside every surface (hooks on unknown paths): our codes, plain JSON.
  app.setErrorHandler((error, request, reply) => {
    const e = fromFastifyError(error as Parameters<typeof fromFastifyError>[0], request, config.maxBodyBytes);
    if (e.code === "internal_error") request.log.error({ err: error }, "unhandled error");
    return reply
      .code(e.status)
      .headers(e.headers)
      .send(withRequestId({ detail: e.message, code: e.code }, request));
  });

  const upstream = (opts.upstream ?? ((logger) => createUpstream(config, logger)))(app.log);
  const lifecycle = new Lifecycle();
  const active = new ActiveChats();
  const admission = new Admission({
    maxConcurrent: config.maxConcurrentChats,
    maxQueued: config.maxQueuedChats,
    queueTimeoutMs: config.queueTimeoutMs,
  });
  const metrics: PrometheusMetrics | undefined = config.metricsEnabled
    ? new PrometheusMetrics({
        admission,
        upstream: {
          kind: config.upstreamKind,
          version: () => models.version(),
          loadedModelKeys: async () => (await models.listLoaded()).map((m) => m.modelKey),
        },
        probeTimeoutMs: Math.min(config.sdkTimeoutMs, 2_000),
      })
    : undefined;
  const models: ModelGate = new ModelGate(
    upstream,
    active.isBusy,
    config.modelAliases,
    config.loadedModelsCacheMs,
    metrics,
  );
  const slots = new ModelSlots({
    // With several upstreams a model may be loaded on each: MAX_CHATS_PER_MODEL counts per upstream.
    perModel: config.maxChatsPerModel * config.upstreams.length,
    maxQueued: config.maxQueuedChats,
    queueTimeoutMs: config.queueTimeoutMs,
  });
  const chat = new ChatService(upstream.chat, models, admission, active, slots, {
    autoLoad: config.autoLoad,
    autoLoadExclusive: config.autoLoadExclusive,
    modelTtlSeconds: config.modelTtlSeconds,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
    observer: metrics,
  });
  const passthrough = new PassthroughService(upstream.passthrough, models, active, slots, {
    autoLoad: config.autoLoad,
    autoLoadExclusive: config.autoLoadExclusive,
    modelTtlSeconds: config.modelTtlSeconds,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
  });
  app.addHook("onClose", async () => {
    await upstream.close();
  });

  // The request id first (every answer has it), then draining and auth: nothing else runs for a
  // request we will not serve.
  await app.register(requestIdPlugin);
  await app.register(lifecyclePlugin, { lifecycle });
  await app.register(accessLogPlugin);
  if (metrics) await app.register(httpMetricsPlugin, { metrics });
  await app.register(authPlugin, {
    apiKeys: config.apiKeys,
    isPublic: (path) =>
      path === "/health" ||
      isDocsPath(path) ||
      isPlaygroundPath(path) ||
      (path === "/metrics" && config.metricsPublic),
  });
  await app.register(bodyChecksPlugin);
  await app.register(serverTimingPlugin);
  await app.register(bigBodiesPlugin, {
    // Two images at once read into reused memory; a third keeps its chunks. Idle for 30 s, freed.
    buffers: new BodyBuffers({ maxBuffers: 2, idleMs: 30_000 }),
    collect: exposedCollector(),
  });
  await app.register(cors, {
    origin: config.corsOrigins.includes("*") ? "*" : config.corsOrigins,
    // Credentials are only ever allowed for an explicit list of origins, never for "*".
    credentials: !config.corsOrigins.includes("*"),
    methods: ["GET", "POST", "OPTIONS"],
    exposedHeaders: ["server-timing", "retry-after", REQUEST_ID_HEADER],
    maxAge: 600,
  });
  await app.register(docsPlugin, { apiKeys: config.apiKeys.length > 0 });
  if (metrics) registerMetricsRoute(app, metrics);

  await app.register(referenceApi, {
    config,
    models,
    chat,
    lifecycle,
    progressIntervalMs: PROGRESS_INTERVAL_MS,
  });
  await app.register(openAiApi, { prefix: "/v1", config, chat, passthrough, lifecycle });
  await app.register(playground);

  await app.register(ollamaApi, {
    prefix: "/api",
    models,
    chat,
    embeddings: new EmbeddingService(upstream.embeddings, models, {
      autoLoad: config.autoLoad,
      modelTtlSeconds: config.modelTtlSeconds,
    }),
    downloads: new ModelDownloads(upstream, models),
    lifecycle,
    maxImageBytes: config.maxImageBytes,
    maxBodyBytes: config.maxBodyBytes,
  });

  await app.ready();
  return { app, lifecycle, upstream };
}
