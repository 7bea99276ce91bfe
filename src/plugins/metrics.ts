import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

/** What the HTTP side of metrics needs; the core's Prometheus metrics implement it. */
export interface HttpMetrics {
  httpRequest(route: string, method: string, status: number, seconds: number): void;
  render(): Promise<string>;
  readonly contentType: string;
}

/** The route label of a request that matched no route: raw URLs would be unbounded. */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * Counts and times every request by route template (never the raw URL), method and status, when
 * its response closes; 499 when the client went away before any answer.
 */
export const httpMetricsPlugin = fp<{ metrics: HttpMetrics }>(
  async (app, { metrics }) => {
    // A callback hook, not an async one: no promise per request on this path.
    app.addHook("onRequest", (request, reply, done) => {
      const res = reply.raw;
      res.once("close", () => {
        const status = res.headersSent || res.writableFinished ? res.statusCode : 499;
        metrics.httpRequest(
          request.routeOptions.url ?? UNMATCHED_ROUTE,
          request.method,
          status,
          reply.elapsedTime / 1000,
        );
      });
      done();
    });
  },
  { name: "http-metrics" },
);

/** GET /metrics in Prometheus' text format. Registered after the docs plugin, so that /help lists it. */
export function registerMetricsRoute(app: FastifyInstance, metrics: HttpMetrics): void {
  app.get(
    "/metrics",
    {
      schema: {
        summary:
          "Metrics in Prometheus' text format (needs a key when API_KEYS is set, unless METRICS_PUBLIC)",
        tags: ["health"],
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()),
  );
}
