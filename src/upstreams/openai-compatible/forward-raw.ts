import { Readable } from "node:stream";
import { APIError } from "openai";
import { Agent, type Dispatcher } from "undici";
import { piecesLength } from "../../byte-pieces.ts";
import { ServiceError } from "../../errors.ts";
import type { Passthrough, RawRequest, RawResponse } from "../types.ts";
import { upstreamTimeout } from "../upstream-errors.ts";
import type { ChatErrorMapper } from "./map-openai-error.ts";

export interface ForwardRawOptions {
  /** The upstream's name in messages. */
  name: string;
  baseUrl: string;
  /** The setting that holds baseUrl, for messages about a wrong URL. */
  baseUrlSetting: string;
  apiKey: string;
  connectTimeoutMs: number;
  /** Budget for the answer's first byte (a stream's first event; a whole non-streamed answer). */
  firstByteTimeoutMs: number;
  /** Budget for any silence after the first byte. */
  idleTimeoutMs: number;
  mapError: ChatErrorMapper;
}

/** Response headers a client may see; the rest (hop-by-hop, CORS, server) are the upstream's own. */
const PASSED_HEADERS = ["content-type", "content-length", "cache-control"];
/** How much of an error body is read to recognise it. */
const ERROR_BODY_LIMIT = 64 * 1024;
const ERROR_IN_200 = /^\s*\{\s*"error"\s*:/;

/**
 * Forwards requests to an OpenAI-compatible API byte for byte with undici's `request()`: no
 * fetch layer, no parsing, no re-serialising. Only failures are read (to map them); a successful
 * body is handed on as it arrives, with the chat's timeouts (connect, first byte, idle).
 */
export function createForwardRaw(opts: ForwardRawOptions): {
  passthrough: Passthrough;
  close: () => Promise<void>;
} {
  const base = new URL(opts.baseUrl);
  const basePath = base.pathname.replace(/\/+$/, "");
  const agent = new Agent({
    connect: { timeout: opts.connectTimeoutMs, noDelay: true },
    keepAliveTimeout: 10_000,
    pipelining: 1,
  });

  async function passthrough(req: RawRequest): Promise<RawResponse> {
    if (req.signal.aborted) throw cancelled();
    const controller = new AbortController();
    let timedOut: "first" | "idle" | undefined;
    const onCallerAbort = () => controller.abort();
    req.signal.addEventListener("abort", onCallerAbort, { once: true });
    let timer = setTimeout(() => {
      timedOut = "first";
      controller.abort();
    }, opts.firstByteTimeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      req.signal.removeEventListener("abort", onCallerAbort);
    };
    const fail = (error: unknown): ServiceError => {
      if (error instanceof ServiceError) return error;
      if (timedOut === "first")
        return upstreamTimeout(opts.name, "the first byte", opts.firstByteTimeoutMs, error);
      if (timedOut === "idle") return upstreamTimeout(opts.name, "the next chunk", opts.idleTimeoutMs, error);
      if (controller.signal.aborted) return cancelled(error);
      return opts.mapError(error, req.model);
    };

    let res: Dispatcher.ResponseData;
    try {
      res = await agent.request({
        origin: base.origin,
        path: basePath + req.path,
        method: req.method,
        headers: {
          ...req.headers,
          ...(req.body && {
            "content-type": "application/json",
            "content-length": String(piecesLength(req.body)),
          }),
          authorization: `Bearer ${opts.apiKey}`,
        },
        body: req.body && sendable(req.body),
        signal: controller.signal,
        // Our own timers measure first byte and silences; undici's would cut a slow generation.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (error) {
      cleanup();
      throw fail(error);
    }

    const body = res.body;
    const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let first: IteratorResult<Buffer>;
    try {
      first = await chunks.next();
      if (
        res.statusCode >= 300 ||
        (!first.done && ERROR_IN_200.test(first.value.toString("latin1", 0, 64)))
      ) {
        const text = await readCapped(first, chunks);
        throw upstreamFailure(res.statusCode, text, req);
      }
    } catch (error) {
      cleanup();
      body.destroy();
      throw fail(error);
    }

    async function* stream(): AsyncGenerator<Buffer> {
      let ended = false;
      try {
        if (first.done) {
          ended = true;
          return;
        }
        yield first.value;
        for (;;) {
          // Only upstream silence counts: time spent waiting for a slow client does not.
          timer = setTimeout(() => {
            timedOut = "idle";
            controller.abort();
          }, opts.idleTimeoutMs);
          let step: IteratorResult<Buffer>;
          try {
            step = await chunks.next();
          } catch (error) {
            throw fail(error);
          } finally {
            clearTimeout(timer);
          }
          if (step.done) {
            ended = true;
            return;
          }
          yield step.value;
        }
      } finally {
        cleanup();
        // A consumer that stopped early (client gone) must not leave the upstream generating.
        if (!ended) body.destroy();
      }
    }

    const headers: Record<string, string> = {};
    for (const name of PASSED_HEADERS) {
      const value = res.headers[name];
      if (typeof value === "string") headers[name] = value;
    }
    clearTimeout(timer);
    return { status: res.statusCode, headers, body: stream() };
  }

  /** An error answer, through the chat's mapping (recognised texts, statuses), as the client would see it. */
  function upstreamFailure(status: number, text: string, req: RawRequest): ServiceError {
    if (/unexpected endpoint/i.test(text)) {
      return new ServiceError(
        502,
        "upstream_error",
        `${opts.name} does not serve ${req.method} ${basePath}${req.path}: check ${opts.baseUrlSetting} (${opts.baseUrl}), or update ${opts.name}`,
        { cause: new Error(text.slice(0, 500)) },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { error: { message: text } };
    }
    const error = APIError.generate(status < 400 ? 502 : status, parsed as object, undefined, new Headers());
    return opts.mapError(error, req.model);
  }

  return { passthrough, close: () => agent.close() };
}

/** Pieces of a small body are joined (cheap); a big one's are streamed one after another, never copied. */
const JOIN_BELOW = 64 * 1024;
function sendable(pieces: readonly Buffer[]): Buffer | Readable {
  if (pieces.length === 1) return pieces[0] as Buffer;
  if (piecesLength(pieces) < JOIN_BELOW) return Buffer.concat(pieces);
  return Readable.from(pieces, { objectMode: false });
}

const cancelled = (cause?: unknown) =>
  new ServiceError(499, "cancelled", "The request was cancelled", { cause });

async function readCapped(first: IteratorResult<Buffer>, rest: AsyncIterator<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for (let step = first; !step.done && size < ERROR_BODY_LIMIT; step = await rest.next()) {
    parts.push(step.value);
    size += step.value.length;
  }
  return Buffer.concat(parts).toString("utf8").slice(0, ERROR_BODY_LIMIT);
}
