import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ServiceError } from "../../errors.ts";
import { fromFastifyError } from "../../http/fastify-errors.ts";
import { logServiceError } from "../common/log-service-error.ts";
import { notFoundHandler } from "../common/not-found-handler.ts";

type Issue = { instancePath?: string; message?: string; params?: unknown };

/** Zod's issues as one line, each prefixed by where it is: `messages[0].role: role must be …`. */
export function validationMessage(validation: ReadonlyArray<Issue>): string {
  const lines = validation.slice(0, 5).map((v) => {
    const path = ((v.params as { path?: PropertyKey[] } | undefined)?.path ?? []).reduce<string>(
      (acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
      "",
    );
    let message = v.message ?? "invalid value";
    if (path === "" && /^Invalid input: expected object/.test(message)) {
      message = 'the body must be a JSON object, such as {"model": "…", …}';
    }
    return path && !message.startsWith(path) ? `${path}: ${message}` : message;
  });
  const more = validation.length > 5 ? ` (and ${validation.length - 5} more)` : "";
  return `${lines.join("; ")}${more}`;
}

/**
 * The core's messages point at the reference API's paths in places; here they point at Ollama's.
 */
export function ollamaWording(message: string): string {
  return message
    .replace("(GET /models/available lists them)", "(GET /api/tags lists them)")
    .replace(/\. Load it with POST \/models\/load$/, "");
}

/** An error as one NDJSON line or body, Ollama's shape: `{"error": "..."}`. */
export function errorBody(e: ServiceError): { error: string } {
  return { error: ollamaWording(e.message) };
}

/** Ollama answers bad requests with 400 where the reference API says 422. */
const statusOf = (e: ServiceError) => (e.status === 422 ? 400 : e.status);

export function sendOllamaError(
  error: FastifyError | ServiceError,
  request: FastifyRequest,
  reply: FastifyReply,
  maxBodyBytes: number,
) {
  if ("validation" in error && error.validation) {
    const status = error.validation.some((v) => (v.params as { status?: number })?.status === 413)
      ? 413
      : 400;
    return reply.code(status).send({ error: validationMessage(error.validation) });
  }
  const e = fromFastifyError(error as FastifyError, request, maxBodyBytes);
  logServiceError(request, e);
  return reply.code(statusOf(e)).headers(e.headers).send(errorBody(e));
}

export { statusOf };

/** 404 for an unknown path under /api; 405 with `Allow` for a known path and the wrong method. */
export function notFound(app: FastifyInstance) {
  return notFoundHandler(app, {
    methodNotAllowed: (request, path, allowed) => ({
      error: `${request.method} ${path} is not allowed: use ${allowed.join(" or ")}`,
    }),
    notFound: (request, path) => ({
      error: `${request.method} ${path} is not an endpoint of the Ollama-compatible API (see /docs)`,
    }),
  });
}
