/**
 * The framework floor: one Fastify 5 route that forwards the body's bytes to the upstream with
 * undici's `request()` and streams the answer back. What Fastify itself costs on top of the floor.
 * `node bench/floors/floor-fastify.ts <upstream origin> <port>`.
 */
import Fastify from "fastify";
import { Agent } from "undici";

const [upstream = "", port = "0"] = process.argv.slice(2);
const agent = new Agent({ connect: { noDelay: true }, keepAliveTimeout: 10_000, pipelining: 1 });

const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
// Bytes in, bytes out: the floor does no JSON work.
app.removeContentTypeParser("application/json");
app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

app.post("/v1/chat/completions", async (request, reply) => {
  const ac = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  const up = await agent.request({
    origin: upstream,
    path: "/v1/chat/completions",
    method: "POST",
    headers: { "content-type": "application/json" },
    body: request.body as Buffer,
    signal: ac.signal,
  });
  reply.code(up.statusCode).header("content-type", up.headers["content-type"] ?? "application/json");
  return reply.send(up.body);
});

await app.listen({ host: "127.0.0.1", port: Number(port) });
