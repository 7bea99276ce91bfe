import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServiceError } from "../../errors.ts";
import { fromFastifyError } from "../../http/fastify-errors.ts";
import { logServiceError } from "../common/log-service-error.ts";
import { notFoundHandler } from "../common/not-found-handler.ts";

/** OpenAI's error body: what its SDKs parse into their typed exceptions. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** Anthropic's error body, for /v1/messages (its SDK reads `error.type`). */
export interface AnthropicErrorBody {
  type: "error";
  error: { type: string; message: string };
}

/** OpenAI answers every invalid request with 400; our finer 422 is a 400 there. */
const statusFor = (e: ServiceError) => (e.status === 422 ? 400 : e.status);

function openAiType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "requests";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

function openAiCode(e: ServiceError): string {
  if (e.code === "unauthorized") return "invalid_api_key";
  if (e.code === "queue_full" || e.code === "queue_timeout") return "rate_limit_exceeded";
  if (e.code === "not_found") return "unknown_url";
  return e.code;
}

function anthropicType(status: number): string {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
      return "overloaded_error";
  }
  return status >= 500 ? "api_error" : "invalid_request_error";
}

/** Which field a message is about, when we know. */
const paramOf = (e: ServiceError): string | null =>
  typeof e.extra.param === "string"
    ? e.extra.param
    : e.code === "model_not_found" || e.code === "model_not_loaded"
      ? "model"
      : null;

/** The core names the reference API's listing; on /v1, the list is GET /v1/models. */
const messageOf = (e: ServiceError) => e.message.replace("GET /models/available", "GET /v1/models");

export const isAnthropicPath = (url: string) => url.split("?")[0]?.endsWith("/v1/messages") ?? false;

/** A ServiceError as /v1 answers it: OpenAI's shape (Anthropic's on /v1/messages) and status. */
export function renderError(
  e: ServiceError,
  url: string,
): { status: number; body: OpenAiErrorBody | AnthropicErrorBody } {
  const status = statusFor(e);
  if (isAnthropicPath(url)) {
    return { status, body: { type: "error", error: { type: anthropicType(status), message: messageOf(e) } } };
  }
  return {
    status,
    body: {
      error: { message: messageOf(e), type: openAiType(status), param: paramOf(e), code: openAiCode(e) },
    },
  };
}

interface ValidationIssue {
  message?: string;
  params?: unknown;
}

/** Fastify's validation errors (our zod compiler's issues) as one 400 naming the first field. */
function fromValidation(validation: ValidationIssue[]): { message: string; param: string | null } {
  const first = validation[0] ?? {};
  const path = ((first.params as { path?: PropertyKey[] } | undefined)?.path ?? []).map(String);
  const param = path.length > 0 ? path.join(".") : null;
  const message = first.message ?? "Invalid request body";
  return { message: param ? `Invalid '${param}': ${message}` : `Invalid request body: ${message}`, param };
}

/** The plugin's error handler: everything thrown on /v1 leaves in OpenAI's shape. */
export function sendOpenAiError(
  error: FastifyError | ServiceError,
  request: FastifyRequest,
  reply: FastifyReply,
  maxBodyBytes: number,
) {
  if ("validation" in error && error.validation) {
    const { message, param } = fromValidation(error.validation as ValidationIssue[]);
    const body = isAnthropicPath(request.url)
      ? { type: "error", error: { type: "invalid_request_error", message } }
      : { error: { message, type: "invalid_request_error", param, code: "invalid_request" } };
    return reply.code(400).send(body);
  }
  const e = fromFastifyError(error as FastifyError, request, maxBodyBytes);
  logServiceError(request, e);
  const { status, body } = renderError(e, request.url);
  return reply.code(status).headers(e.headers).send(body);
}

/** 404 for an unknown path under /v1; 405 with `Allow` for a known path and the wrong method. */
export function notFound(app: FastifyInstance) {
  const error = (message: string, code: string) => ({
    error: { message, type: "invalid_request_error", param: null, code },
  });
  return notFoundHandler(app, {
    methodNotAllowed: (request, path, allowed) =>
      error(
        `Method ${request.method} is not allowed on ${path} (use ${allowed.join(" or ")})`,
        "method_not_allowed",
      ),
    notFound: (request, path) => error(`Invalid URL (${request.method} ${path})`, "unknown_url"),
  });
}
