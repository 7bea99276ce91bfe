import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;

/** The methods a path has routes for: a 405 names them in `Allow`, a 404 has none. */
export function allowedMethods(app: FastifyInstance, path: string): string[] {
  return METHODS.filter((method) => method !== "HEAD" && app.hasRoute({ method, url: path }));
}

/** What a surface says for an unknown path and for a known path with the wrong method. */
export interface NotFoundBodies {
  methodNotAllowed(request: FastifyRequest, path: string, allowed: string[]): unknown;
  notFound(request: FastifyRequest, path: string): unknown;
}

/**
 * A surface's not-found handler: 405 with `Allow` when the path exists for other methods (as
 * FastAPI answers), else 404; the surface supplies only the bodies, in its own shape.
 */
export function notFoundHandler(app: FastifyInstance, bodies: NotFoundBodies) {
  return (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0] ?? "/";
    const allowed = allowedMethods(app, path);
    if (allowed.length > 0 && request.method !== "OPTIONS") {
      return reply
        .code(405)
        .header("allow", allowed.join(", "))
        .send(bodies.methodNotAllowed(request, path, allowed));
    }
    return reply.code(404).send(bodies.notFound(request, path));
  };
}
