import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { Agent, type Dispatcher } from "undici";

/**
 * A minimal `fetch` for the `openai` client, built on undici's `request()`.
 *
 * Why: the WHATWG fetch layer (Request/Response/Headers objects, web streams, signal composition)
 * is most of the cost of the upstream hop (BENCHMARKS.md). The client reads a status, headers and a
 * body, so the answer is what a `Response` offers those readers over undici's Node stream.
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

/**
 * The answer's headers as undici parsed them (lower-case names), read through the part of
 * WHATWG `Headers` that the `openai` client and we use (`get`, `entries`, iteration). Building a
 * real `Headers` validates every name and value again, per request.
 */
class UpstreamHeaders {
  readonly #raw: Record<string, string | string[] | undefined>;
  constructor(raw: Record<string, string | string[] | undefined>) {
    this.#raw = raw;
  }
  get(name: string): string | null {
    const v = this.#raw[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
  }
  *entries(): IterableIterator<[string, string]> {
    for (const k of Object.keys(this.#raw)) {
      const v = this.get(k);
      if (v !== null) yield [k, v];
    }
  }
  forEach(fn: (value: string, key: string, parent: UpstreamHeaders) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}

/**
 * An upstream answer with what a `Response` offers its readers (status, headers, `text()`,
 * `json()`, a web `body`), over undici's Node stream. The web stream is made only for a reader that
 * asks for `body`: the chat engine reads the Node stream itself (`nodeBodyOf`), which saves the
 * `Response`, `Headers` and web-stream objects and a promise per read on every chat.
 */
class UpstreamResponse {
  readonly status: number;
  readonly ok: boolean;
  /** Empty, as for a `Response` made by hand: the client's log lines then skip it. */
  readonly url = "";
  readonly headers: UpstreamHeaders;
  readonly stream: Dispatcher.ResponseData["body"] | null;
  #web: ReadableStream<Uint8Array> | null | undefined;
  constructor(status: number, headers: UpstreamHeaders, stream: Dispatcher.ResponseData["body"] | null) {
    this.status = status;
    this.ok = status >= 200 && status < 300;
    this.headers = headers;
    this.stream = stream;
  }
  get body(): ReadableStream<Uint8Array> | null {
    if (this.#web === undefined) this.#web = this.stream && toWebStream(this.stream);
    return this.#web;
  }
  text(): Promise<string> {
    return this.stream ? this.stream.text() : Promise.resolve("");
  }
  json(): Promise<unknown> {
    return this.text().then((t) => JSON.parse(t));
  }
}

/** The Node stream of an answer from this fetch, or its web stream for any other `Response`. */
export function nodeBodyOf(response: Response): Readable | ReadableStream<Uint8Array> | null {
  const r = response as unknown;
  return r instanceof UpstreamResponse ? r.stream : response.body;
}

/**
 * Where a caller puts its own abort signal for this fetch: in the `openai` client's `fetchOptions`,
 * which it hands to fetch untouched. Given to the client as `signal`, the signal would be joined to
 * the client's own with `AbortSignal.any` on every request. The client's own signal then carries
 * only its timeout, which its callers set longer than their own.
 */
export const ABORT_SIGNAL: unique symbol = Symbol("lmstudio-service.abort-signal");
export const withAbortSignal = (signal: AbortSignal): { [ABORT_SIGNAL]: AbortSignal } => ({
  [ABORT_SIGNAL]: signal,
});

/**
 * Wraps undici's Node stream body as a web stream that stops pulling (and frees the socket) on
 * cancel. It reads nothing until it is read (no high-water mark, listeners on the first pull), so
 * that asking for `body` leaves the answer to `text()` as a `Response` does.
 */
function toWebStream(body: Dispatcher.ResponseData["body"]): ReadableStream<Uint8Array> {
  let done = false;
  let listening = false;
  const listen = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    listening = true;
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
  };
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (listening) body.resume();
        else listen(controller);
      },
      cancel(reason) {
        done = true;
        body.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The origin of each URL prefix seen (one per upstream): a URL parse per request costs more than the lookup. */
const origins = new Map<string, string>();
/** A URL's origin and path, for undici's `request()`. */
function splitUrl(url: string): { origin: string; path: string } {
  const end = url.indexOf("/", url.indexOf("//") + 2);
  const prefix = end < 0 ? url : url.slice(0, end);
  let origin = origins.get(prefix);
  if (origin === undefined) {
    origin = new URL(prefix).origin;
    if (origins.size < 64) origins.set(prefix, origin);
  }
  return { origin, path: end < 0 ? "/" : url.slice(end) };
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
    const signal = (init as { [ABORT_SIGNAL]?: AbortSignal })[ABORT_SIGNAL] ?? init.signal ?? undefined;
    signal?.throwIfAborted();
    const res = await agent.request({
      ...splitUrl(url),
      method: (init.method ?? "GET") as Dispatcher.HttpMethod,
      headers: toHeaderRecord(init.headers),
      // A stream (a body of megabytes in pieces) goes on as a Node stream, as undici takes it.
      body:
        init.body instanceof ReadableStream
          ? Readable.fromWeb(init.body as WebReadableStream)
          : (init.body as string | Buffer | null | undefined),
      signal,
    });
    const empty = NULL_BODY_STATUS.has(res.statusCode);
    if (empty) res.body.resume();
    const response = new UpstreamResponse(
      res.statusCode,
      new UpstreamHeaders(res.headers),
      empty ? null : res.body,
    );
    return response as unknown as Response;
  };

  return { fetch, close: () => agent.close() };
}
