import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Config } from "../config.ts";
import type { ModelService } from "../models/model-service.ts";

const healthSchema = z.object({
  status: z.enum(["ok", "degraded"]).describe('"degraded" while LM Studio cannot be reached.'),
  lmstudio: z.object({
    reachable: z.boolean(),
    version: z.string().optional(),
    error: z.string().optional(),
  }),
  defaults: z.object({ regular_model: z.string(), vision_model: z.string() }),
});

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { config: Config; models: ModelService },
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
        const version = await deps.models.version();
        return { status: "ok" as const, lmstudio: { reachable: true, version }, defaults };
      } catch (error) {
        const message = error instanceof Error ? error.message : "unreachable";
        return { status: "degraded" as const, lmstudio: { reachable: false, error: message }, defaults };
      }
    },
  );
}
