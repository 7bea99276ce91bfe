import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { beginNdjson, writeLine } from "../chat/ndjson.ts";
import { ServiceError, toServiceError } from "../errors.ts";
import type { Lifecycle } from "../http/lifecycle.ts";
import { requestSignal } from "../http/request-signal.ts";
import type { ModelService } from "../models/model-service.ts";
import { throttleProgress } from "../models/throttle-progress.ts";
import type { LoadedModel } from "../upstream/types.ts";
import { detailSchema, errorResponses } from "./error-schemas.ts";

const loadedModelSchema = z.object({
  identifier: z.string().describe("The instance identifier chats can name."),
  model_key: z.string(),
  type: z.enum(["llm", "embedding"]),
  display_name: z.string(),
  vision: z.boolean(),
  trained_for_tool_use: z.boolean(),
  context_length: z.number().int(),
  max_context_length: z.number().int(),
  size_bytes: z.number().int(),
});

const availableModelSchema = loadedModelSchema.omit({ identifier: true, context_length: true }).extend({
  loaded: z.boolean(),
  loaded_identifiers: z.array(z.string()),
});

const loadBodySchema = z
  .strictObject({
    model_key: z.string().min(1).max(512).describe("The model key as LM Studio lists it."),
    exclusive: z.boolean().default(false).describe("Unload every other model first."),
    identifier: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe("Instance identifier; LM Studio picks one by default."),
    context_length: z.number().int().min(1).max(10_000_000).optional(),
    ttl: z.number().int().min(1).max(31_536_000).optional().describe("Idle time-to-live in seconds."),
  })
  .meta({ examples: [{ model_key: "qwen/qwen3-4b-2507", exclusive: true }] });

const loadResultSchema = z.object({
  loaded: z.literal(true),
  model_key: z.string(),
  identifier: z.string(),
  unloaded: z.array(z.string()).describe("Models unloaded first (exclusive)."),
  already_loaded: z.boolean().describe("True when the model was loaded already and nothing was loaded."),
  context_length: z.number().int(),
});

const loadFailureSchema = z.object({
  loaded: z.literal(false),
  error: z.string().describe('"Failed to load model: <why>"'),
  code: z.string().optional(),
  suggestions: z.array(z.string()).optional(),
});

const unloadBodySchema = z
  .strictObject({
    model_key: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe("Identifier or model key: every matching instance."),
    unload_all: z.boolean().optional().describe("Unload every loaded model."),
  })
  .superRefine((b, ctx) => {
    if (b.unload_all === true && b.model_key !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: "Give model_key or unload_all, not both",
        path: ["unload_all"],
      });
    } else if (b.unload_all !== true && b.model_key === undefined) {
      ctx.addIssue({
        code: "custom",
        message: 'Give "model_key", or "unload_all": true',
        path: ["model_key"],
      });
    }
  })
  .meta({ examples: [{ model_key: "qwen/qwen3-4b-2507" }, { unload_all: true }] });

type LoadBody = z.infer<typeof loadBodySchema>;

const toWire = (m: LoadedModel) => ({
  identifier: m.identifier,
  model_key: m.modelKey,
  type: m.type,
  display_name: m.displayName,
  vision: m.vision,
  trained_for_tool_use: m.trainedForToolUse,
  context_length: m.contextLength,
  max_context_length: m.maxContextLength,
  size_bytes: m.sizeBytes,
});

function loadFailure(error: unknown) {
  const e = toServiceError(error);
  const suggestions = e.extra.suggestions as string[] | undefined;
  return {
    status: e.status,
    headers: e.headers,
    body: {
      loaded: false as const,
      error: `Failed to load model: ${e.message}`,
      code: e.code,
      ...(suggestions?.length ? { suggestions } : {}),
    },
  };
}

export function registerModelRoutes(
  app: FastifyInstance,
  deps: { models: ModelService; lifecycle: Lifecycle; progressIntervalMs: number },
): void {
  const { models, lifecycle } = deps;
  const typed = app.withTypeProvider<ZodTypeProvider>();

  const runLoad = (body: LoadBody, signal: AbortSignal, onProgress?: (p: number) => void) =>
    models
      .ensureLoaded({
        modelKey: body.model_key,
        identifier: body.identifier,
        contextLength: body.context_length,
        ttlSeconds: body.ttl,
        exclusive: body.exclusive,
        signal,
        onProgress,
      })
      .then((r) => ({
        loaded: true as const,
        model_key: r.model.modelKey,
        identifier: r.model.identifier,
        unloaded: r.unloaded,
        already_loaded: r.alreadyLoaded,
        context_length: r.model.contextLength,
      }));

  typed.get(
    "/models",
    {
      schema: {
        summary: "List loaded models (LLMs and embedding models)",
        tags: ["models"],
        response: { 200: z.object({ models: z.array(loadedModelSchema) }), 503: detailSchema },
      },
    },
    async () => ({ models: (await models.listLoaded()).map(toWire) }),
  );

  typed.get(
    "/models/available",
    {
      schema: {
        summary: "List models downloaded in LM Studio, and which are loaded",
        tags: ["models"],
        response: { 200: z.object({ models: z.array(availableModelSchema) }), 503: detailSchema },
      },
    },
    async () => ({
      models: (await models.listAvailable()).map((m) => ({
        model_key: m.modelKey,
        type: m.type,
        display_name: m.displayName,
        vision: m.vision,
        trained_for_tool_use: m.trainedForToolUse,
        max_context_length: m.maxContextLength,
        size_bytes: m.sizeBytes,
        loaded: m.loadedIdentifiers.length > 0,
        loaded_identifiers: m.loadedIdentifiers,
      })),
    }),
  );

  typed.post(
    "/models/load",
    {
      schema: {
        summary: "Load a model (idempotent: an already loaded model is returned, not duplicated)",
        tags: ["models"],
        body: loadBodySchema,
        response: {
          200: loadResultSchema,
          404: loadFailureSchema.describe("Model not downloaded"),
          409: loadFailureSchema.describe(
            "Exclusive load refused: chats are running on a model it would unload",
          ),
          422: errorResponses[422],
          503: loadFailureSchema.describe("LM Studio unreachable"),
          504: loadFailureSchema.describe("Load timed out"),
        },
      },
    },
    async (request, reply) => {
      try {
        return await runLoad(request.body, requestSignal(reply, lifecycle));
      } catch (error) {
        const f = loadFailure(error);
        return reply
          .code(f.status as 503)
          .headers(f.headers)
          .send(f.body);
      }
    },
  );

  typed.post(
    "/models/load/stream",
    {
      schema: {
        summary: "Load a model, streaming progress as NDJSON",
        description:
          '`{"type":"progress","progress":0..1}` lines (at most one per 100 ms; the first and the last ' +
          'always), then `{"type":"loaded",...}` with the fields of /models/load, or `{"type":"error",' +
          '"error":{"code","message"}}`. Disconnecting cancels the load unless another caller waits for it.',
        tags: ["models"],
        body: loadBodySchema,
        response: {
          200: {
            description: "One JSON object per line",
            content: {
              "application/x-ndjson": {
                schema: z.discriminatedUnion("type", [
                  z.object({ type: z.literal("progress"), progress: z.number() }),
                  loadResultSchema.extend({ type: z.literal("loaded") }),
                  z.object({
                    type: z.literal("error"),
                    error: z.object({ code: z.string(), message: z.string() }),
                  }),
                ]),
              },
            },
          },
          422: errorResponses[422],
        },
      },
    },
    async (request, reply) => {
      const res = beginNdjson(reply);
      let lastValue: number | undefined;
      const onProgress = throttleProgress(deps.progressIntervalMs, (p) => {
        lastValue = p;
        writeLine(res, { type: "progress", progress: p });
      });
      try {
        const result = await runLoad(request.body, requestSignal(reply, lifecycle), onProgress);
        if (!result.already_loaded && lastValue !== 1) writeLine(res, { type: "progress", progress: 1 });
        writeLine(res, { type: "loaded", ...result });
      } catch (error) {
        const e = toServiceError(error);
        writeLine(res, {
          type: "error",
          error: { code: e.code, message: `Failed to load model: ${e.message}` },
        });
      } finally {
        res.end();
      }
    },
  );

  typed.post(
    "/models/unload",
    {
      schema: {
        summary: "Unload a model (every instance of a key) or all models",
        tags: ["models"],
        body: unloadBodySchema,
        response: {
          200: z.object({ unloaded: z.array(z.string()) }),
          404: detailSchema.describe("Nothing matched"),
          422: errorResponses[422],
          503: detailSchema,
        },
      },
    },
    async (request) => {
      const { model_key, unload_all } = request.body;
      if (!unload_all && model_key === undefined)
        throw new ServiceError(422, "invalid_request", "Nothing to unload");
      return { unloaded: await models.unload(unload_all ? undefined : model_key) };
    },
  );
}
