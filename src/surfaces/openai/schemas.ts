import { z } from "zod";

/**
 * What the gateway itself checks in a body, and no more: it forwards everything else unchanged
 * (tools, response_format, logprobs, unknown fields), so these objects are loose. They check what
 * the gateway reads (`model`, `stream`) and the one field without which no upstream could answer.
 */
const model = z
  .string({ error: "must be a string naming a model" })
  .min(1, "must not be empty")
  .describe("A model key, loaded identifier or alias (GET /v1/models); missing: the default model");
const stream = z.boolean({ error: "must be true or false" }).optional();
const text = z.union([z.string(), z.array(z.unknown())], { error: "must be a string or an array" });

const example = (value: Record<string, unknown>) => ({ examples: [value] });

export const chatCompletionsBody = z
  .looseObject({
    model: model.optional(),
    stream,
    messages: z.array(z.unknown(), { error: "must be an array of messages" }),
  })
  .meta(
    example({
      model: "qwen/qwen3-4b-2507",
      messages: [{ role: "user", content: "Say hello" }],
    }),
  )
  .describe("OpenAI's chat completion request; every other field is forwarded as it is");

export const completionsBody = z
  .looseObject({ model: model.optional(), stream, prompt: text })
  .meta(example({ model: "qwen/qwen3-4b-2507", prompt: "Once upon a time", max_tokens: 20 }))
  .describe("OpenAI's (legacy) completion request; every other field is forwarded as it is");

export const embeddingsBody = z
  .looseObject({ model, stream, input: text })
  .meta(example({ model: "text-embedding-nomic-embed-text-v1.5", input: "Hello" }))
  .describe("OpenAI's embeddings request (model required: there is no default embedding model)");

export const responsesBody = z
  .looseObject({ model: model.optional(), stream, input: text })
  .meta(example({ model: "qwen/qwen3-4b-2507", input: "Say hello" }))
  .describe("OpenAI's Responses API request; every other field is forwarded as it is");

export const messagesBody = z
  .looseObject({
    model: model.optional(),
    stream,
    messages: z.array(z.unknown(), { error: "must be an array of messages" }),
  })
  .meta(
    example({
      model: "qwen/qwen3-4b-2507",
      max_tokens: 100,
      messages: [{ role: "user", content: "Say hello" }],
    }),
  )
  .describe("Anthropic's Messages API request (LM Studio 0.4.1+); every other field is forwarded as it is");

export type ForwardBody = { model?: string; stream?: boolean } & Record<string, unknown>;

export const modelListSchema = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal("model"),
      created: z.number().int(),
      owned_by: z.string(),
      upstreams: z
        .array(z.string())
        .optional()
        .describe("With several upstreams: those that have it (loaded, or downloaded with AUTO_LOAD)."),
    }),
  ),
});

export const errorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .describe("OpenAI's error shape (Anthropic's `{type:\"error\",error:{type,message}}` on /v1/messages)");

/** What the answer is: the upstream's, byte for byte, so it is described, not validated. */
export const passthroughAnswer = {
  description:
    "The upstream's answer unchanged: JSON, or with `stream: true` Server-Sent Events (`: loading N%` comments first while the model loads)",
  content: {
    "application/json": { schema: z.looseObject({}) },
    "text/event-stream": { schema: z.string() },
  },
};
