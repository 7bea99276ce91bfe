import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Config } from "../../config.ts";
import type { ModelGate } from "../../core/models/model-gate.ts";

const healthSchema = z.object({
  status: z.enum(["ok", "degraded"]).describe('"degraded" while LM Studio cannot be reached.'),
  lmstudio: z.object({
    reachable: z.boolean(),
    version: z.string().optional(),
    error: z.string().optional(),
  }),
  defaults: z.object({ regular_model: z.string(), vision_model: z.string() }),
});

/** A health probe must answer fast even when LM Studio's socket is silent. */
const HEALTH_TIMEOUT_MS = 2_000;

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { config: Config; models: ModelGate },
): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/health",
    {
      schema: {
        summary: "Liveness of the service and LM Studio's reachability (always 200 while the service runs)",
        tags: ["health"],
        response: { 200: healthSchema },
      },
    },
    async () => {
      const defaults = {
        regular_model: deps.config.defaultRegularModel,
        vision_model: deps.config.defaultVisionModel,
      };
      try {
        const version = await withDeadline(
          deps.models.version(),
          Math.min(deps.config.sdkTimeoutMs, HEALTH_TIMEOUT_MS),
        );
        return { status: "ok" as const, lmstudio: { reachable: true, version }, defaults };
      } catch (error) {
        const message = error instanceof Error ? error.message : "unreachable";
        return { status: "degraded" as const, lmstudio: { reachable: false, error: message }, defaults };
      }
    },
  );
}
