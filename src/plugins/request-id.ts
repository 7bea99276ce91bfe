import fp from "fastify-plugin";
import { REQUEST_ID_HEADER } from "../http/request-id.ts";

/**
 * Every answer carries the request's id (the client's X-Request-Id when well-formed, see
 * http/request-id.ts), set first so that refusals by later hooks (503 draining, 401) have it too,
 * and streams, whose headers are copied from the reply when they begin.
 */
export const requestIdPlugin = fp(
  async (app) => {
    app.addHook("onRequest", (request, reply, done) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      done();
    });
  },
  { name: "request-id" },
);
