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
});
