import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";

/** One NDJSON line. JSON.stringify never emits a raw newline, so one object is always one line. */
export const ndjsonLine = (value: unknown): string => `${JSON.stringify(value)}\n`;

/**
 * Writes one line and, when the client reads slower than we produce, waits until it drained (or
 * went away), so a slow reader holds back the upstream instead of growing our memory.
 */
export function writeLine(res: ServerResponse, value: unknown): Promise<void> | undefined {
  if (res.writableEnded || res.destroyed) return undefined;
  return writeWithBackpressure(res, ndjsonLine(value));
}

/** Writes bytes; when the client reads slower than we produce, waits until it drained (or left). */
export function writeWithBackpressure(
  res: ServerResponse,
  chunk: Buffer | string,
): Promise<void> | undefined {
  if (res.write(chunk)) return undefined;
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Takes the response over from Fastify and sends the NDJSON headers (keeping the ones hooks set,
 * such as CORS). From here on, lines go straight to the socket, with Nagle off so each is sent now.
 */
export function beginNdjson(reply: FastifyReply, headers: Record<string, string> = {}): ServerResponse {
  const res = reply.raw;
  reply.hijack();
  res.socket?.setNoDelay(true);
  res.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    "content-type": "application/x-ndjson; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
    ...headers,
  });
  return res;
}
