import type { FastifyInstance } from "fastify";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;

/** The methods a path has routes for: a 405 names them in `Allow`, a 404 has none. */
export function allowedMethods(app: FastifyInstance, path: string): string[] {
  return METHODS.filter((method) => method !== "HEAD" && app.hasRoute({ method, url: path }));
}
