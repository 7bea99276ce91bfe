import Fastify from "fastify";
import { Agent, request } from "undici";
import { describe, expect, it } from "vitest";
import type { JsonSkeleton } from "./json-skeleton.ts";
import { readJsonBody } from "./read-json-body.ts";

describe("readJsonBody", () => {
  it("keeps the chunks Node gave it, and later requests on the same connection never overwrite them", async () => {
    // Fastify copies every body, in case the chunks were views of a shared read buffer. The
    // service keeps them instead (a body of megabytes exists once), which holds only while Node
    // gives each body chunk memory of its own: this checks it, across requests on one socket.
    const kept: JsonSkeleton[] = [];
    const app = Fastify();
    app.removeContentTypeParser("application/json");
    app.addContentTypeParser("application/json", (req, payload, done) => {
      readJsonBody(req, payload, 16, (error, body) => done(error, body));
    });
    app.post("/", async (req) => {
      kept.push(req.body as JsonSkeleton);
      return "ok";
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as { port: number };
    const agent = new Agent({ connections: 1, pipelining: 1 });
    try {
      const sent: string[] = [];
      for (let i = 0; i < 60; i++) {
        const body = JSON.stringify({
          i,
          pad: String.fromCharCode(65 + (i % 26)).repeat((i * 7919) % 200_000),
        });
        sent.push(body);
        const r = await request(`http://127.0.0.1:${port}/`, {
          method: "POST",
          body,
          headers: { "content-type": "application/json" },
          dispatcher: agent,
        });
        expect(await r.body.text()).toBe("ok");
      }
      expect(Math.max(...kept.map((k) => k.chunks.length))).toBeGreaterThan(1);
      expect(kept.map((k) => Buffer.concat(k.chunks).toString())).toEqual(sent);
    } finally {
      await agent.close();
      await app.close();
    }
  });

  it("answers Fastify's own errors: 413 over the body limit, 400 for a length that lies", async () => {
    const app = Fastify({ bodyLimit: 100 });
    app.removeContentTypeParser("application/json");
    app.addContentTypeParser("application/json", (req, payload, done) => {
      readJsonBody(req, payload, 16, (error, body) => done(error, body && "parsed"));
    });
    app.post("/", async () => "ok");
    const big = await app.inject({
      method: "POST",
      url: "/",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ pad: "x".repeat(200) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe("FST_ERR_CTP_BODY_TOO_LARGE");
    const lying = await app.inject({
      method: "POST",
      url: "/",
      headers: { "content-type": "application/json", "content-length": "5" },
      payload: '{"a":1}',
    });
    expect(lying.statusCode).toBe(400);
    await app.close();
  });
});
