import { z } from "zod";
import type { AvailableModel } from "../../core/models/model-gate.ts";
import type { LoadedModel } from "../../upstreams/types.ts";
import { strictObject } from "../common/strict-object.ts";

/** The `upstream` field of every reference body that can name one. */
export const UPSTREAM_FIELD = z
  .string()
  .min(1)
  .max(64)
  .optional()
  .describe("With several upstreams: the one to use (its name in /health). Ignored with one.");

/** The model routes' wire shapes, and the converters from the core's models to them. */

export const loadedModelSchema = z.object({
  identifier: z.string().describe("The instance identifier chats can name."),
  model_key: z.string(),
  type: z.enum(["llm", "embedding"]),
  display_name: z.string(),
  vision: z.boolean(),
  trained_for_tool_use: z.boolean(),
  context_length: z.number().int(),
  max_context_length: z.number().int(),
  size_bytes: z.number().int(),
  device: z
    .string()
    .optional()
    .describe("The LM Link device the model lives on, when it is not LM Studio's own machine."),
  upstream: z.string().optional().describe("With several upstreams: the one that has it."),
});

export const availableModelSchema = loadedModelSchema
  .omit({ identifier: true, context_length: true })
  .extend({
    loaded: z.boolean(),
    loaded_identifiers: z.array(z.string()),
  });

/** What people send instead of `model_key`, for the "did you mean" of every reference body. */
export const MODEL_KEY_HINTS = { model: "model_key", modelKey: "model_key" };

export const loadBodySchema = strictObject(
  {
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
    upstream: UPSTREAM_FIELD,
  },
  { ...MODEL_KEY_HINTS, context: "context_length", ttl_seconds: "ttl" },
).meta({ examples: [{ model_key: "qwen/qwen3-4b-2507", exclusive: true }] });

export const loadResultSchema = z.object({
  loaded: z.literal(true),
  model_key: z.string(),
  identifier: z.string(),
  unloaded: z.array(z.string()).describe("Models unloaded first (exclusive)."),
  already_loaded: z.boolean().describe("True when the model was loaded already and nothing was loaded."),
  context_length: z.number().int(),
  upstream: z.string().optional().describe("With several upstreams: the one it is loaded on."),
});

export const loadFailureSchema = z.object({
  loaded: z.literal(false),
  error: z.string().describe('"Failed to load model: <why>"'),
  code: z.string().optional(),
  suggestions: z.array(z.string()).optional(),
  request_id: z.string().optional().describe("The request's id (X-Request-Id)."),
});

export const unloadBodySchema = strictObject(
  {
    model_key: z
      .string()
      .min(1)
      .max(512)
      .optional()
      .describe("Identifier or model key: every matching instance."),
    unload_all: z.boolean().optional().describe("Unload every loaded model."),
    upstream: UPSTREAM_FIELD,
  },
  { ...MODEL_KEY_HINTS, all: "unload_all" },
)
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

export type LoadBody = z.infer<typeof loadBodySchema>;

export const toWire = (m: LoadedModel) => ({
  identifier: m.identifier,
  model_key: m.modelKey,
  type: m.type,
  display_name: m.displayName,
  vision: m.vision,
  trained_for_tool_use: m.trainedForToolUse,
  context_length: m.contextLength,
  max_context_length: m.maxContextLength,
  size_bytes: m.sizeBytes,
  ...(m.device !== undefined && { device: m.device }),
  ...(m.upstream !== undefined && { upstream: m.upstream }),
});

export const toWireAvailable = (m: AvailableModel) => ({
  model_key: m.modelKey,
  type: m.type,
  display_name: m.displayName,
  vision: m.vision,
  trained_for_tool_use: m.trainedForToolUse,
  max_context_length: m.maxContextLength,
  size_bytes: m.sizeBytes,
  ...(m.device !== undefined && { device: m.device }),
  loaded: m.loadedIdentifiers.length > 0,
  loaded_identifiers: m.loadedIdentifiers,
  ...(m.upstream !== undefined && { upstream: m.upstream }),
});
