import type { FastifyRequest } from "fastify";

type Fields = () => Record<string, unknown>;

const extra = new WeakMap<FastifyRequest, Fields>();

/**
 * More fields for a request's access line (model, tokens), read when the line is written, so that
 * what is only known at the end (tokens) still gets in. Whoever knows them registers a reader.
 */
export function setAccessLogFields(request: FastifyRequest, fields: Fields): void {
  extra.set(request, fields);
}

export function accessLogFields(request: FastifyRequest): Record<string, unknown> | undefined {
  return extra.get(request)?.();
}
