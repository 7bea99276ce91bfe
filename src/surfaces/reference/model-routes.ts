import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { ModelGate } from "../../core/models/model-gate.ts";
import { throttleProgress } from "../../core/models/throttle-progress.ts";
import { toServiceError } from "../../errors.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { beginNdjson, writeLine } from "../../http/ndjson.ts";
import { withRequestId } from "../../http/request-id.ts";
import { requestSignal } from "../../http/request-signal.ts";
import { commonErrors, detailSchema } from "./error-schemas.ts";
import {
  availableModelSchema,
  type LoadBody,
  loadBodySchema,
  loadedModelSchema,
  loadFailureSchema,
  loadResultSchema,
  toWire,
  toWireAvailable,
  unloadBodySchema,
} from "./model-schemas.ts";

/** The reference's failure body for a load: `{"loaded":false,"error":"Failed to load model: <why>"}`. */
function loadFailure(error: unknown) {
  const e = toServiceError(error);
  const suggestions = e.extra.suggestions as string[] | undefined;
  return {
    error: e,
    body: {
      loaded: false as const,
      error: `Failed to load model: ${e.message}`,
      code: e.code,
      ...(suggestions?.length ? { suggestions } : {}),
    },
  };
}

const loadErrors = {
  ...commonErrors,
  404: loadFailureSchema.describe("Model not downloaded (close matches in `suggestions`)"),
  409: loadFailureSchema.describe("Exclusive load refused: chats are running on a model it would unload"),
  502: loadFailureSchema.describe("LM Studio failed to load it"),
  503: loadFailureSchema.describe("LM Studio unreachable"),
  504: loadFailureSchema.describe("Load timed out"),
};

export function registerModelRoutes(
  app: FastifyInstance,
  deps: { models: ModelGate; lifecycle: Lifecycle; progressIntervalMs: number },
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
        upstream: body.upstream,
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
        ...(r.model.upstream !== undefined && { upstream: r.model.upstream }),
      }));

  typed.get(
    "/models",
    {
      schema: {
        summary: "List loaded models (LLMs and embedding models)",
        tags: ["models"],
        response: { 200: z.object({ models: z.array(loadedModelSchema) }), ...commonErrors },
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
        response: { 200: z.object({ models: z.array(availableModelSchema) }), ...commonErrors },
      },
    },
    async () => ({ models: (await models.listAvailable()).map(toWireAvailable) }),
  );

  typed.post(
    "/models/load",
    {
      schema: {
        summary: "Load a model (idempotent: an already loaded model is returned, not duplicated)",
        tags: ["models"],
        body: loadBodySchema,
        response: { 200: loadResultSchema, ...loadErrors },
      },
    },
    async (request, reply) => {
      try {
        return await runLoad(request.body, requestSignal(reply, lifecycle));
      } catch (error) {
        const f = loadFailure(error);
        return reply
          .code(f.error.status as 503)
          .headers(f.error.headers)
          .send(withRequestId(f.body, request));
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
          'always), then `{"type":"loaded",...}` with the fields of /models/load. A failure known before ' +
          "any progress (not downloaded, LM Studio down) answers with its status code and the body of " +
          '/models/load; one after it ends the stream with `{"type":"error","error":{"code","message"}}`. ' +
          "Disconnecting cancels the load unless another caller waits for it.",
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
          ...loadErrors,
        },
      },
    },
    async (request, reply) => {
      // The headers wait for the first progress (or the result), so that failures known up front
      // get a real status code, as on /chat/stream.
      let res: ReturnType<typeof beginNdjson> | undefined;
      let lastValue: number | undefined;
      const onProgress = throttleProgress(deps.progressIntervalMs, (p) => {
        lastValue = p;
        res ??= beginNdjson(reply);
        writeLine(res, { type: "progress", progress: p });
      });
      try {
        const result = await runLoad(request.body, requestSignal(reply, lifecycle), onProgress);
        res ??= beginNdjson(reply);
        if (!result.already_loaded && lastValue !== 1) writeLine(res, { type: "progress", progress: 1 });
        writeLine(res, { type: "loaded", ...result });
        res.end();
      } catch (error) {
        const f = loadFailure(error);
        if (res === undefined) {
          return reply
            .code(f.error.status as 503)
            .headers(f.error.headers)
            .send(withRequestId(f.body, request));
        }
        writeLine(res, {
          type: "error",
          error: withRequestId({ code: f.error.code, message: f.body.error }, request),
        });
        res.end();
      }
      return reply;
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
          ...commonErrors,
          404: detailSchema.describe("No loaded model matches"),
        },
      },
    },
    async (request) => {
      const { model_key, unload_all, upstream } = request.body;
      return { unloaded: await models.unload(unload_all ? undefined : model_key, upstream) };
    },
  );
}
