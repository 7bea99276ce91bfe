import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServiceError } from "../../errors.ts";
import { fromFastifyError } from "../../http/fastify-errors.ts";
import { withRequestId } from "../../http/request-id.ts";
import { logServiceError } from "../common/log-service-error.ts";
import { notFoundHandler } from "../common/not-found-handler.ts";

/** One FastAPI-style validation item: `{"loc":["body","messages",0,"role"],"msg":"...","type":"..."}`. */
export interface ValidationDetail {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

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

/**
 * The reference API's errors, as the FastAPI original shapes them: `{"detail": "...", "code"}`, or
 * `{"detail": [...]}` for validation. Everything is mapped to a ServiceError first.
 */
export function sendReferenceError(
  error: FastifyError | ServiceError,
  request: FastifyRequest,
  reply: FastifyReply,
  maxBodyBytes: number,
) {
  if ("validation" in error && error.validation) {
    const { status, detail } = toFastApiDetails(error.validation, error.validationContext);
    return reply.code(status).send(withRequestId({ detail }, request));
  }
  const e = fromFastifyError(error as FastifyError, request, maxBodyBytes);
  logServiceError(request, e);
  const body = "detail" in e.extra ? e.extra : { detail: e.message, code: e.code, ...e.extra };
  return reply.code(e.status).headers(e.headers).send(withRequestId(body, request));
}

/** 404 for an unknown path; 405 with `Allow` for a known path and the wrong method, as FastAPI does. */
export function notFound(app: FastifyInstance) {
  return notFoundHandler(app, {
    methodNotAllowed: (request, path, allowed) =>
      withRequestId(
        {
          detail: `Method Not Allowed: ${request.method} ${path} (use ${allowed.join(" or ")})`,
          code: "method_not_allowed",
        },
        request,
      ),
    notFound: (request, path) =>
      withRequestId({ detail: `Not Found: ${request.method} ${path}`, code: "not_found" }, request),
  });
}
