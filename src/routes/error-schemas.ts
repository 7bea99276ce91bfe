import { z } from "zod";

const detailSchema = z.object({
  detail: z.string().describe("What went wrong and what to do about it."),
  code: z.string().optional().describe("A stable machine-readable code, e.g. model_not_loaded."),
});

export const validationErrorSchema = z.object({
  detail: z.array(
    z.object({
      loc: z.array(z.union([z.string(), z.number()])),
      msg: z.string(),
      type: z.string(),
    }),
  ),
});

const described = <T extends z.ZodType>(schema: T, description: string) => schema.describe(description);

/** The error answers every JSON endpoint may give, for the OpenAPI document. */
export const errorResponses = {
  422: described(validationErrorSchema, "Validation error (FastAPI shape)"),
  503: described(detailSchema, "LM Studio unreachable, or the model is not loaded"),
};

export { detailSchema };
