/** Plugins: cross-cutting Fastify hooks that apply to every surface (lifecycle, keys, logs, docs). */
import fp from "fastify-plugin";
import { ServiceError } from "../errors.ts";
import type { Lifecycle } from "../http/lifecycle.ts";

/** Counts every request for graceful shutdown, and turns new ones away (503) while draining. */
export const lifecyclePlugin = fp<{ lifecycle: Lifecycle }>(
  async (app, { lifecycle }) => {
    // A callback hook, not an async one: no promise per request on this path.
    app.addHook("onRequest", (_request, reply, done) => {
      lifecycle.track(reply.raw);
      if (!lifecycle.draining) return done();
      reply.header("connection", "close").header("retry-after", "5");
      done(
        new ServiceError(
          503,
          "shutting_down",
          "The service is shutting down; retry on another instance or later",
        ),
      );
    });
  },
  { name: "lifecycle" },
);
