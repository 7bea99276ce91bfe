// plugins: cross-cutting Fastify hooks for every surface (lifecycle, logs, keys, body checks, docs).
import fp from "fastify-plugin";
import { accessLogFields } from "../http/access-log-fields.ts";

/**
 * One access line per request when its response closes (finished or client gone), instead of
 * Fastify's two: logging was a third of the service's CPU per chat in the benchmark. The line
 * carries the request id (the logger's binding), the route template, and what a chat added (model,
 * tokens, outcome).
 */
export const accessLogPlugin = fp(
  async (app) => {
    // A callback hook, not an async one: no promise per request on this path.
    app.addHook("onRequest", (request, reply, done) => {
      reply.raw.once("close", () => {
        const res = reply.raw;
        request.log.info(
          {
            method: request.method,
            url: request.url,
            route: request.routeOptions.url,
            status: res.statusCode,
            ms: Math.round(reply.elapsedTime * 100) / 100,
            ...(!res.writableFinished && { aborted: true }),
            ...accessLogFields(request),
          },
          "request",
        );
      });
      done();
    });
  },
  { name: "access-log" },
);
