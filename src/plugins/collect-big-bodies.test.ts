import Fastify from "fastify";
import { request } from "undici";
import { describe, expect, it } from "vitest";
import { BIG_BODY_BYTES, collectBigBodiesPlugin } from "./collect-big-bodies.ts";

describe("collectBigBodiesPlugin", () => {
  it("runs one minor collection after the response to a body of megabytes, and none for small bodies", async () => {
    const calls: Array<{ type: string; answered: number }> = [];
    let answered = 0;
    let collected: () => void = () => {};
    const firstCollection = new Promise<void>((resolve) => {
      collected = resolve;
    });
    const app = Fastify({ bodyLimit: 2 * BIG_BODY_BYTES });
    await app.register(collectBigBodiesPlugin, {
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
