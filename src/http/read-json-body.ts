import type { FastifyRequest } from "fastify";
import Fastify from "fastify";
import { borrowBodyBuffer } from "./body-buffers.ts";
import { JsonSkeleton } from "./json-skeleton.ts";

const { FST_ERR_CTP_BODY_TOO_LARGE, FST_ERR_CTP_INVALID_CONTENT_LENGTH } = Fastify.errorCodes;

/**
 * Reads a request body into a JsonSkeleton as it arrives, with Fastify's own limits and errors
 * (413 over the route's body limit, 400 when the length differs from Content-Length): for a
 * content-type parser that gets the raw payload. Unlike Fastify's reader it neither joins the
 * chunks nor decodes them, so a body of megabytes exists once in memory. A body for which a buffer
 * is lent (see body-buffers.ts) is copied into it as it arrives, and its chunks are let go at once.
 */
export function readJsonBody(
  request: FastifyRequest,
  payload: NodeJS.ReadableStream & { receivedEncodedLength?: number },
  minCut: number,
  done: (error: Error | null, body?: JsonSkeleton) => void,
): void {
  const limit = request.routeOptions.bodyLimit ?? Number.POSITIVE_INFINITY;
  const declared = Number(request.headers["content-length"]);
  if (declared > limit) {
    done(new FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  // A client that went away before its body was read (while a hook before this one waited, say)
  // left a stream that will never emit again: answer now instead of waiting for it forever.
  if ((payload as { destroyed?: boolean }).destroyed) {
    done(Object.assign(new Error("The client went away before its body was read"), { statusCode: 400 }));
    return;
  }
  const body = new JsonSkeleton(minCut);
  const lent = declared > 0 ? borrowBodyBuffer(request, declared) : undefined;
  const stop = () => {
    payload.removeListener("data", onData);
    payload.removeListener("end", onEnd);
    payload.removeListener("error", onEnd);
  };
  function onData(chunk: Buffer | string) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (body.length + bytes.length > limit || (payload.receivedEncodedLength ?? 0) > limit) {
      stop();
      done(new FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    const at = body.length;
    if (lent && at + bytes.length <= lent.length) {
      bytes.copy(lent, at);
      body.write(lent.subarray(at, at + bytes.length));
    } else body.write(bytes);
  }
  function onEnd(error?: Error & { statusCode?: number }) {
    stop();
    if (error) {
      if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) error.statusCode = 400;
      done(error);
      return;
    }
    if (!Number.isNaN(declared) && (payload.receivedEncodedLength || body.length) !== declared) {
      done(new FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    done(null, body);
  }
  payload.on("data", onData);
  payload.on("end", onEnd);
  payload.on("error", onEnd);
  payload.resume();
}
