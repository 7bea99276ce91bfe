import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Agent, type Dispatcher } from "undici";

/**
 * A minimal `fetch` for the `openai` client, built on undici's `request()`.
 *
 * Why: the WHATWG fetch layer (Request/Response/Headers objects, web streams, signal composition)
 * is most of the cost of the upstream hop (BENCHMARKS.md). The client only needs
 * a Response whose body is a web ReadableStream, so we build exactly that and nothing more.
 */
export interface UndiciFetchOptions {
  connectTimeoutMs: number;
  /** Upper bound for any silence on the socket; the chat engine has its own, finer timeouts. */
  socketTimeoutMs: number;
}

export type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

const NULL_BODY_STATUS = new Set([101, 204, 205, 304]);

function toHeaderRecord(headers: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (headers instanceof Headers || Array.isArray(headers)) {
    for (const [k, v] of headers as Iterable<[string, string]>) out[k] = v;
    return out;
  }
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = String(v);
  return out;
}

function responseHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) headers.append(k, item);
    else headers.append(k, v);
  }
  return headers;
}

/** Wraps undici's Node stream body as a web stream that stops pulling (and frees the socket) on cancel. */
function toWebStream(body: Dispatcher.ResponseData["body"]): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      body.on("data", (chunk: Buffer) => {
        // Data can still arrive after a cancel; enqueueing then would throw on a closed controller.
        if (done) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) body.pause();
      });
      body.once("end", () => {
        if (done) return;
        done = true;
        controller.close();
      });
      body.once("error", (err: Error) => {
        if (done) return;
        done = true;
        controller.error(err);
      });
    },
    pull() {
      body.resume();
    },
    cancel(reason) {
      done = true;
      body.destroy(reason instanceof Error ? reason : undefined);
    },
  });
}

export function createUndiciFetch(opts: UndiciFetchOptions): { fetch: FetchFn; close: () => Promise<void> } {
  const agent = new Agent({
    connect: { timeout: opts.connectTimeoutMs, noDelay: true },
    keepAliveTimeout: 10_000,
    headersTimeout: opts.socketTimeoutMs,
    bodyTimeout: opts.socketTimeoutMs,
    pipelining: 1,
  });

  const fetch: FetchFn = async (input, init = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const signal = init.signal ?? undefined;
    signal?.throwIfAborted();
    const res = await agent.request({
      origin: new URL(url).origin,
      path: url.slice(url.indexOf("/", url.indexOf("//") + 2)) || "/",
      method: (init.method ?? "GET") as Dispatcher.HttpMethod,
      headers: toHeaderRecord(init.headers),
      // A stream (a body of megabytes in pieces) goes on as a Node stream, as undici takes it.
      body:
        init.body instanceof ReadableStream
          ? Readable.fromWeb(init.body as WebReadableStream)
          : (init.body as string | Buffer | null | undefined),
      signal,
    });
    const body = NULL_BODY_STATUS.has(res.statusCode) ? null : toWebStream(res.body);
    if (body === null) res.body.resume();
    return new Response(body, { status: res.statusCode, headers: responseHeaders(res.headers) });
  };

  return { fetch, close: () => agent.close() };
}
