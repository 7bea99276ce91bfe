/**
 * Reference only (not a target of `npm run bench`): the floor of any Node proxy on this machine, a
 * bare node:http server that forwards POST bodies to UPSTREAM with undici `request()` and pipes
 * the answer back. `node bench/proto/floor-proxy.ts <port> <upstream origin>`
 */
import http from "node:http";
import { Pool } from "undici";

const port = Number(process.argv[2]);
const upstream = new Pool(process.argv[3] as string, { pipelining: 1 });
http
  .createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      try {
        const up = await upstream.request({
          path: "/v1/chat/completions",
          method: "POST",
          headers: { "content-type": "application/json" },
          body: Buffer.concat(chunks),
        });
        res.writeHead(up.statusCode, { "content-type": String(up.headers["content-type"]) });
        for await (const c of up.body) res.write(c);
        res.end();
      } catch (error) {
        res.writeHead(502).end(String(error));
      }
    });
  })
  .listen(port, "127.0.0.1");
