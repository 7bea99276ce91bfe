import fp from "fastify-plugin";
import { serverTiming } from "../http/server-timing.ts";

/** Every answer says what the service itself cost (`Server-Timing: overhead`), unless a route said more. */
export const serverTimingPlugin = fp(
  async (app) => {
    // A callback hook, not an async one: no promise per request on this path.
    app.addHook("onSend", (_request, reply, payload, done) => {
      if (!reply.hasHeader("server-timing")) reply.header("server-timing", serverTiming(reply.elapsedTime));
      done(null, payload);
    });
  },
  { name: "server-timing" },
);
