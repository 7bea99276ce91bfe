/**
 * Preloaded into Portkey's gateway process (`node --import ./bench/portkey-preload.ts ...`):
 *  1. wraps the global `fetch` so that it returns `new Response(r.body, r)`: Portkey's streaming path
 *     mutates the headers of the upstream Response, which Node's fetch returns immutable;
 *  2. binds the gateway's server to 127.0.0.1 (it would listen on every interface otherwise);
 *  3. exits when the bench (its parent) goes away: stdin is a pipe from the parent.
 */
import http from "node:http";
import "./watchdog.ts";

const realFetch = globalThis.fetch;
globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const r = await realFetch(input, init);
  return new Response(r.body, r);
};

const listen = http.Server.prototype.listen;
http.Server.prototype.listen = function (this: http.Server, ...args: unknown[]) {
  if (typeof args[0] === "number" && typeof args[1] !== "string") args.splice(1, 1, "127.0.0.1");
  return listen.apply(this, args as Parameters<typeof listen>);
} as typeof listen;
