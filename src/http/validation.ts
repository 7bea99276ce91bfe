/** HTTP transport: request validation with zod, shared by every surface. */
import type { FastifySchemaCompiler } from "fastify";
import type { ZodType } from "zod";

/** HTTP status carried by a validation issue that is not a plain 422 (an image over the size limit). */
export const ISSUE_STATUS = "httpStatus";

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
