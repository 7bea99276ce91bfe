import { ServiceError } from "../errors.ts";

/**
 * Failures every upstream shares (refused, reset, timed out), turned into ServiceErrors that name
 * the upstream and what to do. The upstream's own text never goes into a message: it stays in
 * `cause`, which the surfaces log with the request id.
 */

export function errnoCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === "string") return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

export const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "EPIPE",
]);

export const connectionRefused = (name: string, url: string, cause?: unknown) =>
  new ServiceError(503, "upstream_unreachable", `Could not connect to ${name}: Connection refused (${url})`, {
    cause,
  });

export const upstreamTimeout = (name: string, what: string, ms: number, cause?: unknown) =>
  new ServiceError(504, "upstream_timeout", `${name} did not answer in time: ${what} took over ${ms} ms`, {
    cause,
  });

/** A failure we do not recognise: a fixed message, the upstream's text only in the log. */
export const unrecognised = (name: string, what: string, cause?: unknown) =>
  new ServiceError(
    502,
    "upstream_error",
    `${name} failed ${what}; the service's log has its message (look for this request's id)`,
    { cause },
  );

/** The text of an upstream error body: OpenAI-shaped `{error:{message}}`, or `{error:"text"}`. */
export function upstreamMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body;
  if (body && typeof body === "object") {
    const o = body as Record<string, unknown>;
    if (typeof o.message === "string") return o.message;
    if ("error" in o) return upstreamMessage(o.error);
  }
  return undefined;
}
