import { Readable } from "node:stream";
import Fastify from "fastify";
import { Agent, request } from "undici";
import { describe, expect, it, vi } from "vitest";
import { BodyBuffers } from "../http/body-buffers.ts";
import type { JsonSkeleton } from "../http/json-skeleton.ts";
import { readJsonBody } from "../http/read-json-body.ts";
import { BIG_BODY_BYTES, bigBodiesPlugin } from "./big-bodies.ts";

/** A JSON body of `bytes` bytes whose every byte depends on `seed`. */
function body(bytes: number, seed: number): string {
  const head = `{"seed":${seed},"pad":"`;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const turn = alphabet.slice(seed % 64) + alphabet.slice(0, seed % 64);
  const length = bytes - head.length - 2;
  return `${head}${turn.repeat(Math.ceil(length / 64)).slice(0, length)}"}`;
}

async function start(buffers: BodyBuffers) {
  const seen: Array<{ text: string; memory: Set<ArrayBufferLike>; chunks: number }> = [];
  /** Requests whose handler waits until released: a body in use while others arrive. */
  const holds = new Map<number, () => void>();
  const app = Fastify({ bodyLimit: 4 * BIG_BODY_BYTES });
  await app.register(bigBodiesPlugin, { buffers, collect: undefined });
  app.removeContentTypeParser("application/json");
  let parsedAfterClose: (() => void) | undefined;
  const parserRanAfterClose = new Promise<void>((resolve) => {
    parsedAfterClose = resolve;
  });
  // A request that waits here, before its body is read, until its client is gone.
  app.addHook("preParsing", async (req, reply, payload) => {
    if (req.headers["x-wait-for-close"]) await new Promise((r) => reply.raw.once("close", r));
    return payload;
  });
  app.addContentTypeParser("application/json", (req, payload, done) => {
    readJsonBody(req, payload, 1024, (error, parsed) => {
      if (req.headers["x-wait-for-close"]) parsedAfterClose?.();
      done(error, parsed);
    });
  });
  app.post("/", async (req) => {
    const skeleton = req.body as JsonSkeleton;
    const seed = Number(req.headers["x-seed"]);
    if (req.headers["x-hold"]) await new Promise<void>((release) => holds.set(seed, release));
    // Read after the hold: a body lent to another request meanwhile would show here.
    seen[seed] = {
      text: Buffer.concat(skeleton.chunks).toString(),
      memory: new Set(skeleton.chunks.map((c) => c.buffer)),
      chunks: skeleton.chunks.length,
    };
    return "ok";
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as { port: number };
  const agent = new Agent({ connections: 4 });
  const post = async (text: string, seed: number, hold = false) => {
    const r = await request(`http://127.0.0.1:${port}/`, {
      method: "POST",
      body: text,
      headers: { "content-type": "application/json", "x-seed": String(seed), ...(hold && { "x-hold": "1" }) },
      dispatcher: agent,
    });
    return r.body.text();
  };
  /** Sends the first `sent` characters of `text` (declaring all of it), waits for `ready`, goes away. */
  const abandon = async (
    text: string,
    sent: number,
    ready: () => Promise<unknown>,
    headers: Record<string, string> = {},
  ) => {
    const controller = new AbortController();
    async function* part() {
      yield Buffer.from(text.slice(0, sent));
      await ready();
      controller.abort();
    }
    await expect(
      request(`http://127.0.0.1:${port}/`, {
        method: "POST",
        body: Readable.from(part()),
        headers: { "content-type": "application/json", "content-length": String(text.length), ...headers },
        signal: controller.signal,
        dispatcher: agent,
      }),
    ).rejects.toThrow();
  };
  const close = async () => {
    await agent.close();
    await app.close();
  };
  return { seen, holds, post, abandon, close, parserRanAfterClose };
}

/** A service lending one buffer at most, closed after `test`. */
async function withService(
  test: (s: Awaited<ReturnType<typeof start>>, buffers: BodyBuffers) => Promise<void>,
) {
  const buffers = new BodyBuffers({ maxBuffers: 1, idleMs: 60_000 });
  const s = await start(buffers);
  try {
    await test(s, buffers);
  } finally {
    await s.close();
  }
}

describe("bigBodiesPlugin: a lent buffer", () => {
  it("reads a body of megabytes into a lent buffer, the same one for the next body, and gives it back when the response closes", () =>
    withService(async (s, buffers) => {
      const texts = [body(BIG_BODY_BYTES + 10, 0), body(BIG_BODY_BYTES + 5_000, 1)];
      for (const [seed, text] of texts.entries()) expect(await s.post(text, seed)).toBe("ok");
      await vi.waitFor(() => expect(buffers.counts).toEqual({ lent: 0, free: 1 }));
      expect(s.seen.map((x) => x.text)).toEqual(texts);
      // Many chunks, one memory: the lent buffer's, the same for both bodies.
      expect(s.seen[0]?.chunks).toBeGreaterThan(1);
      expect(s.seen[0]?.memory.size).toBe(1);
      expect([...(s.seen[1]?.memory ?? [])]).toEqual([...(s.seen[0]?.memory ?? [])]);
    }));

  it("never lends a buffer in use: a body arriving meanwhile keeps its own chunks, and both stay intact", () =>
    withService(async (s, buffers) => {
      const held = body(BIG_BODY_BYTES + 1, 2);
      const other = body(BIG_BODY_BYTES + 2, 3);
      const first = s.post(held, 2, true);
      await vi.waitFor(() => expect(s.holds.has(2)).toBe(true));
      expect(buffers.counts).toEqual({ lent: 1, free: 0 });
      expect(await s.post(other, 3)).toBe("ok");
      s.holds.get(2)?.();
      expect(await first).toBe("ok");
      expect(s.seen[2]?.text).toBe(held);
      expect(s.seen[3]?.text).toBe(other);
      expect(s.seen[3]?.memory.size).toBeGreaterThan(1);
      expect([...(s.seen[3]?.memory ?? [])].some((m) => s.seen[2]?.memory.has(m))).toBe(false);
    }));

  it("lends nothing for a body below the threshold", () =>
    withService(async (s, buffers) => {
      expect(await s.post(body(BIG_BODY_BYTES - 1, 4), 4)).toBe("ok");
      expect(buffers.counts).toEqual({ lent: 0, free: 0 });
      expect(s.seen[4]?.memory.size).toBeGreaterThan(1);
    }));

  it("gets the buffer back when the client goes away halfway through its body", () =>
    withService(async (s, buffers) => {
      const text = body(BIG_BODY_BYTES + 100, 5);
      await s.abandon(text, text.length / 2, () => vi.waitFor(() => expect(buffers.counts.lent).toBe(1)));
      await vi.waitFor(() => expect(buffers.counts).toEqual({ lent: 0, free: 1 }));
      // And it is lent again.
      const again = body(BIG_BODY_BYTES + 7, 6);
      expect(await s.post(again, 6)).toBe("ok");
      expect(s.seen[6]?.text).toBe(again);
      expect(s.seen[6]?.memory.size).toBe(1);
    }));

  it("lends nothing to a request whose client went away before its body was read, and answers it at once", () =>
    withService(async (s, buffers) => {
      const text = body(BIG_BODY_BYTES + 100, 7);
      // The request waits in a preParsing hook until its client is gone, then its body is read.
      await s.abandon(text, 1000, async () => {}, { "x-wait-for-close": "1" });
      await s.parserRanAfterClose;
      expect(buffers.counts).toEqual({ lent: 0, free: 0 });
      const next = body(BIG_BODY_BYTES + 3, 8);
      expect(await s.post(next, 8)).toBe("ok");
      expect(s.seen[8]?.memory.size).toBe(1);
    }));
});

describe("bigBodiesPlugin: a minor collection", () => {
  it("runs one minor collection after the response to a body of megabytes, and none for small bodies", async () => {
    const calls: Array<{ type: string; answered: number }> = [];
    let answered = 0;
    let collected: () => void = () => {};
    const firstCollection = new Promise<void>((resolve) => {
      collected = resolve;
    });
    const app = Fastify({ bodyLimit: 2 * BIG_BODY_BYTES });
    await app.register(bigBodiesPlugin, {
      buffers: new BodyBuffers({ maxBuffers: 1, idleMs: 60_000 }),
      collect: (options) => {
        calls.push({ ...options, answered });
        collected();
      },
    });
    app.addContentTypeParser("text/plain", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
    app.post("/", async (req, reply) => {
      reply.raw.once("finish", () => answered++);
      return { bytes: (req.body as Buffer).length };
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as { port: number };
    const post = async (bytes: number) => {
      const r = await request(`http://127.0.0.1:${port}/`, {
        method: "POST",
        body: Buffer.alloc(bytes, 97),
        headers: { "content-type": "text/plain" },
      });
      return (await r.body.json()) as { bytes: number };
    };
    try {
      expect(await post(BIG_BODY_BYTES - 1)).toEqual({ bytes: BIG_BODY_BYTES - 1 });
      expect(await post(1000)).toEqual({ bytes: 1000 });
      expect(await post(BIG_BODY_BYTES)).toEqual({ bytes: BIG_BODY_BYTES });
      await firstCollection;
      // One call, after all three answers: the small bodies scheduled none, the big one ran after its response.
      expect(calls).toEqual([{ type: "minor", answered: 3 }]);
    } finally {
      await app.close();
    }
  });
});
