/**
 * The floor: the least a proxy on this machine can add. A bare `node:http` server that forwards every
 * request to the upstream with undici's `request()` (keep-alive pool), bytes in and bytes out, no
 * parsing. `node bench/floors/floor-node.ts <upstream origin> <port>`.
 */
import http from "node:http";
import { Agent, type Dispatcher } from "undici";

const [upstream = "", port = "0"] = process.argv.slice(2);
const agent = new Agent({ connect: { noDelay: true }, keepAliveTimeout: 10_000, pipelining: 1 });

const server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => {
  const ac = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) ac.abort();
  });
  agent
    .request({
      origin: upstream,
      path: req.url ?? "/",
      method: (req.method ?? "GET") as Dispatcher.HttpMethod,
      headers: { "content-type": req.headers["content-type"] ?? "application/json" },
      body: req.method === "GET" ? null : req,
      signal: ac.signal,
    })
    .then((up) => {
      const ct = String(up.headers["content-type"] ?? "");
      res.writeHead(up.statusCode, ct ? { "content-type": ct } : {});
      up.body.pipe(res);
      up.body.once("error", () => res.destroy());
    })
    .catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
});
server.listen(Number(port), "127.0.0.1");
