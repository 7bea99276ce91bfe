import type { Readable } from "node:stream";

/** How long a body may take to end after `[DONE]` before its connection is given up. */
const DRAIN_AFTER_DONE_MS = 2_000;

/** Reads of a body, and a cancel that also ends a read that is waiting. */
interface ByteSource {
  next(): Promise<IteratorResult<Uint8Array>>;
  cancel(): void;
}

function byteSource(body: Readable | ReadableStream<Uint8Array>): ByteSource {
  if (body instanceof ReadableStream) {
    const reader = body.getReader();
    return {
      next: () => reader.read() as Promise<IteratorResult<Uint8Array>>,
      cancel: () => void reader.cancel().catch(() => {}),
    };
  }
  // A Node stream's iterator reads all that is buffered at once; destroy() ends a waiting read.
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  return { next: () => it.next(), cancel: () => void body.destroy() };
}

/**
 * Reads what is left of a body (the chunked terminator, which LM Studio may send in a later packet)
 * so that its connection goes back to the pool; cancels it when it does not end in time.
 */
function drain(source: ByteSource): void {
  const timer = setTimeout(() => source.cancel(), DRAIN_AFTER_DONE_MS);
  timer.unref();
  const step = (): Promise<void> => source.next().then(({ done }) => (done ? undefined : step()));
  step()
    .catch(() => {})
    .finally(() => clearTimeout(timer));
}

/**
 * Server-sent events from a byte stream (undici's Node stream, or a web stream): yields, per read,
 * the `data` of each event it completed (`[DONE]` included), so that events that arrive together
 * cost one step. A consumer that stops at `[DONE]` leaves the rest of the body to be read in the
 * background, so that the upstream connection is reused (cancelling the body would close it); one
 * that stops earlier (an error, a client gone) cancels the body.
 *
 * Why not the `openai` client's own `Stream`: it runs every chunk through six nested async
 * generators and copies it; this loop measured 17–47 % more chats per second at concurrency 50
 * (BENCHMARKS.md, "Fixes, measured"). Only `data:` matters for chat completions; `event:`, `id:`,
 * `retry:` and comments are skipped.
 */
export async function* sseData(body: Readable | ReadableStream<Uint8Array>): AsyncGenerator<string[]> {
  const source = byteSource(body);
  const decoder = new TextDecoder();
  let buf = "";
  let data: string | undefined;
  let sawDone = false;
  try {
    for (;;) {
      const { value, done } = await source.next();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      const events: string[] = [];
      let start = 0;
      for (;;) {
        const nl = buf.indexOf("\n", start);
        if (nl < 0) break;
        let line = buf.slice(start, nl);
        start = nl + 1;
        if (line.endsWith("\r")) line = line.slice(0, -1);
        if (line === "") {
          // A blank line ends an event.
          if (data !== undefined) {
            if (data === "[DONE]") sawDone = true;
            events.push(data);
          }
          data = undefined;
        } else if (line.startsWith("data:")) {
          const v = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
          data = data === undefined ? v : `${data}\n${v}`;
        }
      }
      buf = buf.slice(start);
      if (events.length > 0) yield events;
    }
    buf += decoder.decode();
    if (buf.startsWith("data:")) {
      const v = buf.charCodeAt(5) === 32 ? buf.slice(6) : buf.slice(5);
      data = data === undefined ? v : `${data}\n${v}`;
    }
    if (data !== undefined) yield [data];
  } finally {
    if (sawDone) drain(source);
    else source.cancel();
  }
}
