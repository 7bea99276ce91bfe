import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUndiciFetch, nodeBodyOf, withAbortSignal } from "./undici-fetch.ts";

let hangReached: () => void = () => {};
const server = http.createServer((req, res) => {
  if (req.url === "/hang") return hangReached(); // never answers
  res.setHeader("Set-Cookie", ["a=1", "b=2"]);
  res.writeHead(req.url === "/missing" ? 404 : 200, { "content-type": "application/json", "X-Thing": "yes" });
  res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null }));
});
const http_ = createUndiciFetch({ connectTimeoutMs: 1_000, socketTimeoutMs: 5_000 });
let origin = "";

beforeAll(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await http_.close();
});

describe("createUndiciFetch", () => {
  it("answers with what a Response offers its readers: status, ok, headers by any case, text and json", async () => {
    const res = await http_.fetch(`${origin}/v1/models?x=1`, { headers: { Authorization: "Bearer k" } });
    expect([res.status, res.ok]).toEqual([200, true]);
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(res.headers.get("x-thing")).toBe("yes");
    expect(res.headers.get("set-cookie")).toBe("a=1, b=2");
    expect(res.headers.get("absent")).toBeNull();
    const all: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      all[name] = value;
    });
    expect(all).toMatchObject({ "x-thing": "yes", "content-type": "application/json" });
    expect(await res.json()).toEqual({ path: "/v1/models?x=1", auth: "Bearer k" });
    const missing = await http_.fetch(`${origin}/missing`);
    expect([missing.status, missing.ok]).toEqual([404, false]);
    expect(JSON.parse(await missing.text())).toMatchObject({ path: "/missing" });
  });

  it("asks for / when the URL has no path", async () => {
    const res = await http_.fetch(origin);
    expect(await res.json()).toMatchObject({ path: "/" });
  });

  it("gives the chat engine undici's Node stream, and any other reader a web stream", async () => {
    const a = await http_.fetch(`${origin}/a`);
    const node = nodeBodyOf(a);
    expect(node).not.toBeInstanceOf(ReadableStream);
    const chunks: Buffer[] = [];
    for await (const c of node as AsyncIterable<Buffer>) chunks.push(c);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toMatchObject({ path: "/a" });
    const b = await http_.fetch(`${origin}/b`);
    expect(b.body).toBeInstanceOf(ReadableStream);
    expect(JSON.parse(await new Response(b.body).text())).toMatchObject({ path: "/b" });
    // As with a Response, asking for the body reads nothing: text() still gets all of it.
    const c = await http_.fetch(`${origin}/c`);
    expect(c.body).toBeInstanceOf(ReadableStream);
    // A turn of the event loop: time for a stream that reads at once to take what has arrived.
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(await c.text())).toMatchObject({ path: "/c" });
  });

  it("is aborted by the signal given through fetchOptions, ahead of the client's own", async () => {
    const reached = new Promise<void>((resolve) => {
      hangReached = resolve;
    });
    const controller = new AbortController();
    const clients = new AbortController();
    const pending = http_.fetch(`${origin}/hang`, {
      signal: clients.signal,
      ...(withAbortSignal(controller.signal) as RequestInit),
    });
    await reached;
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });
});
