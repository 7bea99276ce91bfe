import type { FastifySchemaCompiler } from "fastify";
import type { ZodType } from "zod";
import { ISSUE_STATUS } from "../chat/schemas.ts";

/** One FastAPI-style validation item: `{"loc":["body","messages",0,"role"],"msg":"...","type":"..."}`. */
export interface ValidationDetail {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

interface IssueError {
  instancePath: string;
  message: string;
  keyword: string;
  params: { path: PropertyKey[]; status: number };
  schemaPath: string;
}

/**
 * Zod validation that keeps each issue's path as an array (FastAPI's `loc` has numbers for array
 * indexes), and the HTTP status an issue asks for (413 for an image over the size limit).
 */
export const zodValidatorCompiler: FastifySchemaCompiler<ZodType> =
  ({ schema }) =>
  (data) => {
    const result = schema.safeParse(data);
    if (result.success) return { value: result.data };
    const errors: IssueError[] = result.error.issues.map((issue) => {
      const params = (issue as { params?: Record<string, unknown> }).params;
      const status = typeof params?.[ISSUE_STATUS] === "number" ? (params[ISSUE_STATUS] as number) : 422;
      return {
        instancePath: `/${issue.path.join("/")}`,
        schemaPath: "",
        keyword: issue.code,
        message: issue.message,
        params: { path: issue.path, status },
      };
    });
    return { error: errors as unknown as Error };
  };

const TYPE_NAMES: Record<string, string> = {
  invalid_type: "type_error",
  too_small: "value_error.too_small",
  too_big: "value_error.too_big",
  invalid_value: "value_error.invalid_value",
  unrecognized_keys: "value_error.extra_fields",
  invalid_union: "value_error.invalid_union",
  invalid_format: "value_error.invalid_format",
  custom: "value_error",
};

/** Converts Fastify's `err.validation` (from our compiler, or Fastify's own checks) to FastAPI's shape. */
export function toFastApiDetails(
  validation: ReadonlyArray<{ instancePath?: string; message?: string; keyword?: string; params?: unknown }>,
  context: string | undefined,
): { status: number; detail: ValidationDetail[] } {
  let status = 422;
  const detail = validation.map((v) => {
    const params = (v.params ?? {}) as { path?: PropertyKey[]; status?: number };
    if (params.status === 413) status = 413;
    const path = params.path
      ? params.path.map((p) => (typeof p === "number" ? p : String(p)))
      : (v.instancePath ?? "").split("/").filter(Boolean);
    return {
      loc: [context ?? "body", ...path],
      msg: v.message ?? "Invalid value",
      type: TYPE_NAMES[v.keyword ?? ""] ?? v.keyword ?? "value_error",
    };
  });
  return { status, detail };
}
