import type { FastifyRequest } from "fastify";
import Fastify from "fastify";
import { JsonSkeleton } from "./json-skeleton.ts";

const { FST_ERR_CTP_BODY_TOO_LARGE, FST_ERR_CTP_INVALID_CONTENT_LENGTH } = Fastify.errorCodes;

/**
 * Reads a request body into a JsonSkeleton as it arrives, with Fastify's own limits and errors
 * (413 over the route's body limit, 400 when the length differs from Content-Length): for a
 * content-type parser that gets the raw payload. Unlike Fastify's reader it neither joins the
 * chunks nor decodes them, so a body of megabytes exists once in memory.
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
  const body = new JsonSkeleton(minCut);
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
    body.write(bytes);
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
