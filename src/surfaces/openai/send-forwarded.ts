import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ChatTimings } from "../../core/chat/chat-service.ts";
import type { PassthroughOutput } from "../../core/passthrough/passthrough-service.ts";
import { ServiceError, toServiceError } from "../../errors.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { writeWithBackpressure } from "../../http/ndjson.ts";
import { serverTiming } from "../../http/server-timing.ts";
import { logServiceError } from "../common/log-service-error.ts";
import { renderError } from "./render-error.ts";

export interface SendOptions {
  /** The client asked for a stream (SSE). */
  streaming: boolean;
  timings: ChatTimings;
  lifecycle: Lifecycle;
}

/** Takes the response over from Fastify, keeping the headers hooks set (CORS). */
function begin(reply: FastifyReply, status: number, headers: Record<string, string>): ServerResponse {
  const res = reply.raw;
  reply.hijack();
  res.writeHead(status, { ...(reply.getHeaders() as Record<string, string>), ...headers });
  return res;
}

const isSse = (headers: Record<string, string>) => headers["content-type"]?.includes("text/event-stream");

/**
 * Sends what the core forwarded: the upstream's status, headers and bytes unchanged. A streaming
 * request waiting for its model gets its SSE headers at once and `: loading N%` comment lines (which
 * every SSE client ignores) so that nothing times out. A failure before any byte is thrown (the
 * error handler gives it its status); after, a stream gets one `event: error` frame in OpenAI's
 * shape (the SDKs raise it), any other body is cut off.
 */
export async function sendForwarded(
  request: FastifyRequest,
  reply: FastifyReply,
  outputs: AsyncGenerator<PassthroughOutput>,
  opts: SendOptions,
): Promise<void> {
  let res: ServerResponse | undefined;
  let sse = false;
  try {
    for await (const out of outputs) {
      if (out.type === "progress") {
        if (!opts.streaming) continue;
        if (!res) {
          sse = true;
          res = begin(reply, 200, {
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
            "server-timing": serverTiming(reply.elapsedTime, opts.timings),
          });
          res.socket?.setNoDelay(true);
        }
        await writeWithBackpressure(res, `: loading ${Math.round(out.progress * 100)}%\n\n`);
        continue;
      }
      const { response } = out;
      if (!res) {
        sse = isSse(response.headers) === true;
        const headers = {
          ...response.headers,
          "server-timing": serverTiming(reply.elapsedTime, opts.timings),
        };
        res = begin(reply, response.status, headers);
        if (sse) res.socket?.setNoDelay(true);
      }
      for await (const chunk of response.body) {
        if (res.destroyed) break;
        const pending = writeWithBackpressure(res, chunk);
        if (pending) await pending;
      }
      res.end();
    }
  } catch (error) {
    if (!res) throw error;
    const e = opts.lifecycle.shutdownSignal.aborted
      ? new ServiceError(503, "shutting_down", "The service is shutting down; retry")
      : toServiceError(error);
    logServiceError(request, e);
    if (sse && !res.destroyed) {
      res.end(`event: error\ndata: ${JSON.stringify(renderError(e, request.url).body)}\n\n`);
    } else {
      res.destroy();
    }
  }
}
