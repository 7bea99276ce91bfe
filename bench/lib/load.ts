/**
 * The load generator's requests: undici `Pool`s with keep-alive (pipelining off), one per target and
 * concurrency. Each helper times one request from just before it is sent to the end of its body.
 */
import { performance } from "node:perf_hooks";
import { Client, type Dispatcher, Pool } from "undici";

export interface RequestSpec {
  path: string;
  headers: Record<string, string>;
  body: string | Buffer;
  /** A string the full response must contain (checked on every response). */
  expect: string;
}

export const now = (): number => performance.now();
/** Wall-clock epoch in ms with sub-ms resolution (for comparing with another process's clock). */
export const epochNow = (): number => performance.timeOrigin + performance.now();

export class RequestFailed extends Error {}

export function pool(origin: string, connections: number): Pool {
  return new Pool(origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 60_000,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
}

function send(d: Dispatcher, spec: RequestSpec, signal?: AbortSignal) {
  return d.request({
    path: spec.path,
    method: "POST",
    headers: spec.headers,
    body: spec.body,
    ...(signal && { signal }),
  });
}

/** One request read to the end; its latency in ms. Throws RequestFailed on a bad answer. */
export async function timed(d: Dispatcher, spec: RequestSpec): Promise<number> {
  const t0 = now();
  const res = await send(d, spec);
  const text = await res.body.text();
  const ms = now() - t0;
  if (res.statusCode !== 200 || !text.includes(spec.expect)) {
    throw new RequestFailed(`${spec.path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  }
  return ms;
}

export interface StreamTiming {
  /** Time to the first byte of the body (the first chunk: SSE event or NDJSON line). */
  ttfb: number;
  total: number;
  text: string;
}

/** One streamed request read to the end, with its time to first byte. */
export async function timedStream(d: Dispatcher, spec: RequestSpec): Promise<StreamTiming> {
  const t0 = now();
  const res = await send(d, spec);
  let ttfb = Number.NaN;
  let text = "";
  for await (const chunk of res.body) {
    if (Number.isNaN(ttfb)) ttfb = now() - t0;
    text += (chunk as Buffer).toString("utf8");
  }
  const total = now() - t0;
  if (res.statusCode !== 200 || !text.includes(spec.expect)) {
    throw new RequestFailed(`${spec.path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  }
  return { ttfb, total, text };
}

export interface Burst {
  latencies: number[];
  errors: number;
  firstError: string | undefined;
  wallMs: number;
}

/** `total` requests by `concurrency` workers on one pool. */
export async function burst(
  d: Dispatcher,
  spec: RequestSpec,
  total: number,
  concurrency: number,
): Promise<Burst> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let issued = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < total) {
        issued++;
        try {
          latencies.push(await timed(d, spec));
        } catch (error) {
          errors++;
          firstError ??= String(error);
        }
      }
    }),
  );
  return { latencies, errors, firstError, wallMs: now() - t0 };
}

export interface AbortedStream {
  /** When the client aborted, as epoch ms. */
  abortedAt: number;
  ttfb: number;
}

/**
 * Starts a stream on a connection of its own, waits for the first body chunk, then aborts: undici
 * destroys the socket, as a browser or a client that gives up does.
 */
export async function abortAfterFirstChunk(origin: string, spec: RequestSpec): Promise<AbortedStream> {
  const client = new Client(origin, { pipelining: 1 });
  const ac = new AbortController();
  try {
    const t0 = now();
    const res = await send(client, spec, ac.signal);
    res.body.on("error", () => {});
    if (res.statusCode !== 200) throw new RequestFailed(`${spec.path}: HTTP ${res.statusCode}`);
    await new Promise<void>((resolve, reject) => {
      res.body.once("data", () => resolve());
      res.body.once("end", () => reject(new RequestFailed("stream ended before its first chunk")));
      res.body.once("error", reject);
    });
    const ttfb = now() - t0;
    const abortedAt = epochNow();
    ac.abort();
    return { abortedAt, ttfb };
  } finally {
    await client.destroy().catch(() => {});
  }
}
