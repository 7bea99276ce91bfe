import { once } from "node:events";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { sseData } from "./parse-sse.ts";

function streamOf(...parts: Array<string | Uint8Array>): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(typeof p === "string" ? enc.encode(p) : p);
      c.close();
    },
  });
}

async function all(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of sseData(body)) out.push(...batch);
  return out;
}

describe("sseData", () => {
  it("yields each event's data, however the bytes are split", async () => {
    const wire = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';
    expect(await all(streamOf(wire))).toEqual(['{"a":1}', '{"b":2}', "[DONE]"]);
    const bytes = new TextEncoder().encode(wire);
    const oneByOne = Array.from(bytes, (b) => new Uint8Array([b]));
    expect(await all(streamOf(...oneByOne))).toEqual(['{"a":1}', '{"b":2}', "[DONE]"]);
  });

  it("handles CRLF, multi-line data, comments and other fields", async () => {
    const wire = ": keep-alive\r\nevent: x\r\nid: 7\r\ndata: one\r\ndata:two\r\n\r\ndata: three\n\n";
    expect(await all(streamOf(wire))).toEqual(["one\ntwo", "three"]);
  });

  it("keeps multi-byte characters split across chunks intact", async () => {
    const bytes = new TextEncoder().encode('data: {"t":"héllo 👋"}\n\n');
    expect(await all(streamOf(bytes.slice(0, 14), bytes.slice(14, 20), bytes.slice(20)))).toEqual([
      '{"t":"héllo 👋"}',
    ]);
  });

  it("yields a last event that has no blank line after it", async () => {
    expect(await all(streamOf("data: a\n\ndata: b"))).toEqual(["a", "b"]);
  });

  it("stops reading (cancels the body) when the consumer stops", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(new TextEncoder().encode("data: x\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const _ of sseData(body)) break;
    expect(cancelled).toBe(true);
  });

  it("reads a Node stream (undici's body) as it reads a web stream, however the bytes are split", async () => {
    const bytes = new TextEncoder().encode('data: {"t":"héllo 👋"}\r\n\r\n: c\ndata: [DONE]\n\n');
    for (const cut of [1, 3, 15, 16, 17, 30]) {
      const node = Readable.from([bytes.slice(0, cut), bytes.slice(cut)], { objectMode: false });
      const out: string[] = [];
      for await (const batch of sseData(node)) out.push(...batch);
      expect(out).toEqual(['{"t":"héllo 👋"}', "[DONE]"]);
    }
  });

  it("destroys a Node stream when the consumer stops before [DONE]", async () => {
    const body = new PassThrough();
    body.write("data: x\n\n");
    for await (const _ of sseData(body)) break;
    expect(body.destroyed).toBe(true);
  });

  it("after [DONE], reads a Node stream to its end instead of destroying it, so its connection is kept", async () => {
    const body = new PassThrough();
    body.write("data: x\n\ndata: [DONE]\n\n");
    const seen: string[] = [];
    for await (const batch of sseData(body)) {
      seen.push(...batch);
      if (batch.includes("[DONE]")) break;
    }
    expect(seen).toEqual(["x", "[DONE]"]);
    // The rest (LM Studio's chunked terminator, in a later packet) is read in the background.
    const ended = once(body, "end");
    body.end("\n");
    await ended;
    expect(body.destroyed).toBe(true); // autoDestroy after a clean end, not a destroy mid-body
    expect(body.readableEnded).toBe(true);
  });
});
