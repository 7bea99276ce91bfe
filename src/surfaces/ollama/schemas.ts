/**
 * The Ollama-compatible API (/api): request schemas, field for field from Ollama's docs/api.md and
 * the `ollama` npm client's types (0.6.4). Unknown fields are refused with a hint, so that a typo
 * ("mesages") is not silently a model load.
 */
import { z } from "zod";
import { strictObject } from "../common/strict-object.ts";

const modelName = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? "model is required: name one (GET /api/tags lists them)"
        : "model must be a string, the model's name (GET /api/tags lists them)",
  })
  .min(1, "model is required: name one (GET /api/tags lists them)")
  .max(512, "model names are at most 512 characters");

/** Go durations ("5m", "1h30m", "300ms") as Ollama parses keep_alive strings. */
export const GO_DURATION = /^-?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$|^-?0$/;

export const keepAliveSchema = z.union(
  [
    z.number().finite(),
    z
      .string()
      .regex(GO_DURATION, 'keep_alive must be a duration such as "5m", "1h", "30s", or seconds as a number'),
  ],
  {
    error: 'keep_alive must be a duration such as "5m" or "1h", or seconds as a number (0 unloads, -1 keeps)',
  },
);

/** Every option of Ollama's Modelfile that the client knows; the ones LM Studio has are mapped. */
export const optionsSchema = strictObject({
  numa: z.boolean().optional(),
  num_ctx: z.number().int().min(1).max(16_777_216).optional(),
  num_batch: z.number().int().optional(),
  num_gpu: z.number().int().optional(),
  main_gpu: z.number().int().optional(),
  low_vram: z.boolean().optional(),
  f16_kv: z.boolean().optional(),
  logits_all: z.boolean().optional(),
  vocab_only: z.boolean().optional(),
  use_mmap: z.boolean().optional(),
  use_mlock: z.boolean().optional(),
  embedding_only: z.boolean().optional(),
  num_thread: z.number().int().optional(),
  num_keep: z.number().int().optional(),
  seed: z.number().int().optional(),
  num_predict: z.number().int().min(-2).optional(),
  top_k: z.number().int().min(0).optional(),
  top_p: z.number().min(0).max(1).optional(),
  min_p: z.number().min(0).max(1).optional(),
  tfs_z: z.number().optional(),
  typical_p: z.number().optional(),
  repeat_last_n: z.number().int().optional(),
  temperature: z.number().min(0).max(2).optional(),
  repeat_penalty: z.number().min(0).optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  mirostat: z.number().int().optional(),
  mirostat_tau: z.number().optional(),
  mirostat_eta: z.number().optional(),
  penalize_newline: z.boolean().optional(),
  stop: z.array(z.string().max(1_000)).max(64).optional(),
});
export type OllamaOptions = z.infer<typeof optionsSchema>;

const formatSchema = z.union([z.literal("json"), z.literal(""), z.record(z.string(), z.unknown())], {
  error: 'format must be "json" or a JSON schema object',
});

const thinkSchema = z.union([z.boolean(), z.enum(["high", "medium", "low"])], {
  error: 'think must be true, false, "high", "medium" or "low"',
});

const images = z
  .array(z.string({ error: "images are base64 strings" }))
  .max(64)
  .nullish();

const toolCallSchema = z.object({
  id: z.string().optional(),
  function: z.object({
    index: z.number().int().optional(),
    name: z.string().min(1),
    arguments: z.record(z.string(), z.unknown()).default({}),
  }),
});
export type OllamaToolCall = z.infer<typeof toolCallSchema>;

export const messageSchema = strictObject({
  role: z.enum(["system", "user", "assistant", "tool"], {
    error: 'role must be "system", "user", "assistant" or "tool"',
  }),
  content: z.string().max(10_000_000).default(""),
  thinking: z.string().optional(),
  images,
  tool_calls: z.array(toolCallSchema).max(128).optional(),
  tool_name: z.string().optional(),
  tool_call_id: z.string().optional(),
});
export type OllamaMessage = z.infer<typeof messageSchema>;

const toolSchema = z.object({
  type: z.literal("function", { error: 'tools[].type must be "function"' }),
  function: z.object({
    name: z.string().min(1, "tools[].function.name is required"),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

const generation = {
  model: modelName,
  stream: z.boolean().default(true),
  format: formatSchema.optional(),
  options: optionsSchema.optional(),
  keep_alive: keepAliveSchema.optional(),
  think: thinkSchema.optional(),
  logprobs: z.boolean().optional(),
  top_logprobs: z.number().int().min(0).max(20).optional(),
};

const example = (value: Record<string, unknown>) => ({ examples: [value] });

export const chatRequestSchema = strictObject(
  {
    ...generation,
    messages: z.array(messageSchema).max(10_000).optional(),
    tools: z.array(toolSchema).max(128).optional(),
  },
  { prompt: "use messages here (prompt is for /api/generate)" },
).meta(
  example({
    model: "qwen/qwen3-4b-2507",
    messages: [{ role: "user", content: "Why is the sky blue?" }],
    stream: false,
  }),
);
export type ChatRequestBody = z.infer<typeof chatRequestSchema>;

export const generateRequestSchema = strictObject(
  {
    ...generation,
    prompt: z.string().max(10_000_000).optional(),
    suffix: z.string().optional(),
    system: z.string().max(10_000_000).optional(),
    template: z.string().optional(),
    context: z.array(z.number()).optional(),
    raw: z.boolean().optional(),
    images,
    width: z.number().optional(),
    height: z.number().optional(),
    steps: z.number().optional(),
  },
  { messages: "use prompt here (messages are for /api/chat)" },
).meta(example({ model: "qwen/qwen3-4b-2507", prompt: "Why is the sky blue?", stream: false }));
export type GenerateRequestBody = z.infer<typeof generateRequestSchema>;

/** `model`, or `name` as older clients (and the client's pull) send it. */
const hasModel: [
  (b: { model?: string; name?: string }) => boolean,
  { message: string; path: PropertyKey[] },
] = [
  (b) => b.model !== undefined || b.name !== undefined,
  { message: "model is required: name one (GET /api/tags lists them)", path: ["model"] },
];

export const showRequestSchema = strictObject({
  model: modelName.optional(),
  name: modelName.optional(),
  verbose: z.boolean().optional(),
  system: z.string().optional(),
  template: z.string().optional(),
  options: optionsSchema.optional(),
})
  .refine(...hasModel)
  .meta(example({ model: "qwen/qwen3-4b-2507" }));

export const embedRequestSchema = strictObject({
  model: modelName,
  input: z.union([z.string(), z.array(z.string()).min(1).max(2_048)], {
    error: "input must be a string or an array of strings",
  }),
  truncate: z.boolean().optional(),
  keep_alive: keepAliveSchema.optional(),
  dimensions: z.number().int().min(1).optional(),
  options: optionsSchema.optional(),
}).meta(example({ model: "text-embedding-nomic-embed-text-v1.5", input: ["Why is the sky blue?"] }));

export const embeddingsRequestSchema = strictObject({
  model: modelName,
  prompt: z.string(),
  keep_alive: keepAliveSchema.optional(),
  options: optionsSchema.optional(),
}).meta(example({ model: "text-embedding-nomic-embed-text-v1.5", prompt: "Why is the sky blue?" }));

export const pullRequestSchema = strictObject({
  model: modelName.optional(),
  name: modelName.optional(),
  insecure: z.boolean().optional(),
  stream: z.boolean().default(true),
  username: z.string().optional(),
  password: z.string().optional(),
})
  .refine(...hasModel)
  .meta(example({ model: "qwen/qwen3-4b-2507", stream: false }));

/** The endpoints LM Studio has no equivalent for: any JSON object, answered with one clear error. */
export const anyObjectSchema = z.record(z.string(), z.unknown(), { error: "the body must be a JSON object" });
