/** Reference surface: the API of the FastAPI original (its paths, shapes, errors and NDJSON lines). */
import { z } from "zod";
import { checkImage, IMAGE_MIME_TYPES } from "../../core/chat/image.ts";
import { ISSUE_STATUS } from "../../http/validation.ts";
import { strictObject } from "../common/strict-object.ts";
import { MODEL_KEY_HINTS, UPSTREAM_FIELD } from "./model-schemas.ts";

/** A real 1x1 PNG, so that the documented vision example is accepted as it is. */
const EXAMPLE_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

export function createChatSchemas(maxImageBytes: number) {
  const image = strictObject(
    {
      data_base64: z
        .string()
        .describe("Base64 image bytes, raw or as a data URL (`data:image/png;base64,...`)."),
      mime_type: z
        .string()
        .optional()
        .describe(
          `One of ${IMAGE_MIME_TYPES.join(", ")}; must match the bytes. Optional when data_base64 is a data URL.`,
        )
        .meta({ examples: ["image/jpeg"] }),
    },
    {
      data: "data_base64",
      base64: "data_base64",
      image: "data_base64",
      url: "data_base64",
      type: "mime_type",
    },
  ).superRefine((img, ctx) => {
    const problem = checkImage(img.data_base64, img.mime_type, maxImageBytes);
    if (!problem) return;
    ctx.addIssue({
      code: "custom",
      message: problem.message,
      path: [problem.kind === "mime" ? "mime_type" : "data_base64"],
      params: { [ISSUE_STATUS]: problem.kind === "too_large" ? 413 : 422, kind: problem.kind },
    });
  });

  const message = strictObject(
    {
      role: z.enum(["system", "user", "assistant"]),
      content: z.string().describe("The message text."),
      images: z.array(image).max(32).optional().describe("Images for vision models (JPEG, PNG, WebP)."),
    },
    { text: "content", image: "images" },
  );

  const config = strictObject(
    {
      temperature: z.number().min(0).max(2).optional().describe("Randomness, 0.0 to 2.0."),
      maxTokens: z.number().int().min(1).max(1_000_000).optional().describe("Maximum tokens to generate."),
      topP: z.number().min(0).max(1).optional().describe("Nucleus sampling, 0.0 to 1.0."),
      presencePenalty: z.number().min(-2).max(2).optional().describe("Penalise new topics, -2.0 to 2.0."),
      frequencyPenalty: z.number().min(-2).max(2).optional().describe("Penalise repetition, -2.0 to 2.0."),
    },
    { max_new_tokens: "maxTokens", num_predict: "maxTokens" },
  ).describe("Sampling settings; each is optional.");

  const request = strictObject(
    {
      model_key: z
        .string()
        .min(1)
        .max(512)
        .optional()
        .describe("Model key or loaded identifier; the endpoint's default model when omitted."),
      messages: z.array(message).min(1).max(10_000),
      config: config.optional(),
      upstream: UPSTREAM_FIELD,
    },
    {
      ...MODEL_KEY_HINTS,
      model_name: "model_key",
      message: "messages",
      prompt: "messages",
      options: "config",
      temperature: "config.temperature",
      max_tokens: "config.maxTokens",
      maxTokens: "config.maxTokens",
      stream:
        "streaming has its own endpoints: POST /chat/stream (and /chat/regular/stream, /chat/vision/stream)",
    },
  ).meta({
    examples: [
      {
        messages: [
          { role: "system", content: "You are a helpful assistant." },
          { role: "user", content: "What is 2+2?" },
        ],
        config: { temperature: 0.7, maxTokens: 100 },
      },
    ],
  });

  /** The same schema, with an example that shows an image (for the vision routes' docs). */
  const visionRequest = request.meta({
    examples: [
      {
        messages: [
          {
            role: "user",
            content: "What is in this image?",
            images: [{ data_base64: EXAMPLE_PNG, mime_type: "image/png" }],
          },
        ],
        config: { temperature: 0.6, maxTokens: 200 },
      },
    ],
  });

  return { request, visionRequest };
}

export type ChatSchemas = ReturnType<typeof createChatSchemas>;
export type ChatBody = z.infer<ChatSchemas["request"]>;

const timings = {
  prompt_tokens: z.number().int().optional().describe("Prompt tokens, from the upstream usage."),
  total_tokens: z.number().int().optional(),
  time_to_first_token_ms: z.number().optional().describe("From sending upstream to the first token."),
  generation_ms: z.number().optional().describe("From the first token to the last."),
  tokens_per_second: z.number().optional(),
  queue_ms: z.number().optional().describe("Time spent waiting for a free chat slot, when any."),
  load_ms: z.number().optional().describe("Time spent loading the model on demand, when it was."),
};

export const chatResponseSchema = z.object({
  model: z.string().describe("The LM Studio instance that answered."),
  content: z.string(),
  reasoning: z
    .string()
    .optional()
    .describe(
      "A reasoning model's thoughts before its answer (delta.reasoning_content or delta.reasoning), when it sent any.",
    ),
  stop_reason: z.string().describe('"stop", "length", ...'),
  predicted_tokens: z.number().int().describe("Completion tokens, from the upstream usage."),
  ...timings,
});

export const streamLineSchema = z
  .discriminatedUnion("type", [
    z.object({
      type: z.literal("progress"),
      stage: z.literal("load"),
      progress: z.number().min(0).max(1),
    }),
    z.object({ type: z.literal("fragment"), content: z.string() }),
    z
      .object({ type: z.literal("reasoning"), content: z.string() })
      .describe("A piece of a reasoning model's thoughts; comes before the fragments it leads to."),
    z.object({
      type: z.literal("done"),
      model: z.string(),
      predicted_tokens: z.number().int(),
      stop_reason: z.string(),
      ...timings,
    }),
    z.object({ type: z.literal("error"), error: z.object({ code: z.string(), message: z.string() }) }),
  ])
  .describe("One line of the NDJSON stream: fragments, then one done (or one error) line.");
