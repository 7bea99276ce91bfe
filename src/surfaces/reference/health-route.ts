import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Config } from "../../config.ts";
import type { ChatService } from "../../core/chat/chat-service.ts";
import type { ModelGate } from "../../core/models/model-gate.ts";
import { withDeadline } from "../../deadline.ts";
import { detailSchema } from "./error-schemas.ts";

const healthSchema = z.object({
  status: z
    .enum(["ok", "degraded"])
    .describe(
      '"degraded" while LM Studio (or, with several upstreams, any of them) cannot be reached, or its version cannot manage models.',
    ),
  lmstudio: z.object({
    reachable: z.boolean(),
    version: z.string().optional(),
    compatible: z
      .boolean()
      .optional()
      .describe("False when LM Studio's version and the SDK disagree: chats with loaded models still work."),
    incompatibility: z.string().optional().describe("Why, and what to do."),
    error: z.string().optional(),
  }),
  defaults: z.object({ regular_model: z.string(), vision_model: z.string() }),
  chats: z
    .object({
      running: z.number().int(),
      queued: z.number().int(),
      per_model: z
        .record(z.string(), z.object({ running: z.number().int(), queued: z.number().int() }))
        .describe("Chats sent to each model, and those waiting for it (MAX_CHATS_PER_MODEL)."),
    })
    .describe("Chats running and queued in the service."),
  upstreams: z
    .array(
      z.object({
        name: z.string(),
        kind: z.enum(["lmstudio", "openai"]),
        url: z.string(),
        state: z.enum(["up", "down", "unknown"]).describe('"unknown" until its first check.'),
        version: z.string().optional(),
        chats_in_flight: z.number().int(),
        capacity: z.number().int().describe("Chats it runs at once (max_concurrent_chats)."),
        weight: z.number(),
        last_error: z.string().optional().describe("Why it is down."),
      }),
    )
    .optional()
    .describe("With several upstreams: each one's state (checked in the background)."),
});

/** A health probe must answer fast even when LM Studio's socket is silent. */
const HEALTH_TIMEOUT_MS = 2_000;

export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { config: Config; models: ModelGate; chat: ChatService },
): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/health",
    {
      schema: {
        summary:
          "Liveness of the service and LM Studio's reachability: 200 while serving (degraded or not), 503 while shutting down",
        tags: ["health"],
        response: { 200: healthSchema, 503: detailSchema.describe("The service is shutting down") },
      },
    },
    async () => {
      const defaults = {
        regular_model: deps.config.defaultRegularModel,
        vision_model: deps.config.defaultVisionModel,
      };
      const { running, queued, perModel } = deps.chat.stats();
      const chats = { running, queued, per_model: perModel };
      // Read after the version call below, which checks every upstream afresh.
      const upstreams = () => {
        const list = deps.models.upstreams();
        return list
          ? {
              upstreams: list.map((u) => ({
                name: u.name,
                kind: u.kind,
                url: u.url,
                state: u.state,
                ...(u.version !== undefined && { version: u.version }),
                chats_in_flight: u.chatsInFlight,
                capacity: u.capacity,
                weight: u.weight,
                ...(u.lastError !== undefined && { last_error: u.lastError }),
              })),
            }
          : {};
      };
      try {
        const ms = Math.min(deps.config.sdkTimeoutMs, HEALTH_TIMEOUT_MS);
        const version = await withDeadline(deps.models.version(), ms);
        // A listing is what reveals a version skew (the version call itself still works then):
        // one listing, not one per probe.
        if (!deps.models.compatibility().checked) {
          await withDeadline(deps.models.listLoaded(), ms).catch(() => undefined);
        }
        const { compatible, reason } = deps.models.compatibility();
        return {
          status:
            compatible && !deps.models.upstreams()?.some((u) => u.state === "down")
              ? ("ok" as const)
              : ("degraded" as const),
          lmstudio: { reachable: true, version, compatible, ...(reason && { incompatibility: reason }) },
          defaults,
          chats,
          ...upstreams(),
        };
      } catch (error) {
        const message = error instanceof Error ? error.message : "unreachable";
        return {
          status: "degraded" as const,
          lmstudio: { reachable: false, error: message },
          defaults,
          chats,
          ...upstreams(),
        };
      }
    },
  );
}
