import { z } from "zod";

/** The reference API's error bodies, for the OpenAPI document and the tests that hold answers to it. */

const detailSchema = z.object({
  detail: z.string().describe("What went wrong and what to do about it."),
  code: z.string().optional().describe("A stable machine-readable code, e.g. model_not_loaded."),
  suggestions: z.array(z.string()).optional().describe("Close matches, when a model name matched nothing."),
  request_id: z
    .string()
    .optional()
    .describe("The request's id (X-Request-Id): quote it when reporting a problem."),
});

export const validationErrorSchema = z.object({
  detail: z.array(
    z.object({
      loc: z.array(z.union([z.string(), z.number()])),
      msg: z.string(),
      type: z.string(),
    }),
  ),
  request_id: z.string().optional().describe("The request's id (X-Request-Id)."),
});

/** Answers any route may give: a bad key, a body we cannot read, draining. */
export const commonErrors = {
  400: detailSchema.describe("The body is not valid JSON"),
  401: detailSchema.describe("Missing or invalid API key (when API_KEYS is set)"),
  413: detailSchema.describe("The body is over MAX_BODY_BYTES"),
  415: detailSchema.describe("Not JSON, compressed, or not UTF-8"),
  422: validationErrorSchema.describe("Validation error (FastAPI shape)"),
  503: detailSchema.describe("LM Studio unreachable, or the service is shutting down"),
};

/** Every error a chat route may answer, for the OpenAPI document. */
export const chatErrors = {
  ...commonErrors,
  404: detailSchema.describe("The model is not downloaded (with close matches in `suggestions`)"),
  413: z
    .union([detailSchema, validationErrorSchema])
    .describe("The body is over MAX_BODY_BYTES, or an image is over MAX_IMAGE_BYTES"),
  429: detailSchema.describe("Too many chats: the queue is full, or the wait for a slot timed out"),
  502: detailSchema.describe("LM Studio failed, or refused our credentials"),
  503: detailSchema.describe(
    "LM Studio unreachable, the model is not loaded, or the service is shutting down",
  ),
  504: detailSchema.describe("LM Studio did not answer in time"),
};

export { detailSchema };
