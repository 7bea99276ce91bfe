import fp from "fastify-plugin";
import { type BodyBuffers, offerBodyBuffer } from "../http/body-buffers.ts";
import { BIG_BODY_BYTES } from "./collect-big-bodies.ts";

/**
 * Offers a request whose body is megabytes (by its Content-Length) a reusable buffer to read it
 * into, given back when its response closes (see http/body-buffers.ts). Keys and draining run
 * first: a request refused before its body is read never borrows one.
 */
export const lendBodyBuffersPlugin = fp<{ buffers: BodyBuffers }>(
  async (app, { buffers }) => {
    // A callback hook, not an async one: no promise per request on this path.
    app.addHook("onRequest", (request, reply, done) => {
      if (Number(request.headers["content-length"]) >= BIG_BODY_BYTES) {
        offerBodyBuffer(request, reply.raw, buffers);
      }
      done();
    });
  },
  { name: "lend-body-buffers" },
);
