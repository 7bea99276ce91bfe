import fp from "fastify-plugin";
import { serverTiming } from "../http/server-timing.ts";

/** Every answer says what the service itself cost (`Server-Timing: overhead`), unless a route said more. */
export const serverTimingPlugin = fp(
  async (app) => {
    app.addHook("onSend", async (_request, reply, payload) => {
      if (!reply.hasHeader("server-timing")) reply.header("server-timing", serverTiming(reply.elapsedTime));
      return payload;
    });
  },
  { name: "server-timing" },
);
