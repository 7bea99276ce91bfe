/** GET / and the playground's assets over plain HTTP: negotiation, encodings, caching, keys, docs. */
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
let keyed: Stack;

beforeAll(async () => {
  stack = await startStack();
  keyed = await startStack({ env: { API_KEYS: "k1" } });
});
afterAll(async () => {
  await stack?.close();
  await keyed?.close();
});

/** undici's request(): no automatic decompression, so the encodings on the wire are visible. */
async function get(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

describe("GET /", () => {
  it("answers API clients with a JSON pointer to /help and /docs: Accept JSON, curl's */*, none", async () => {
    for (const accept of ["application/json", "*/*", undefined]) {
      const r = await get(stack.url, "/", accept ? { accept } : {});
      expect(r.status).toBe(200);
      expect(r.headers["content-type"]).toMatch(/^application\/json/);
      expect(JSON.parse(r.body.toString())).toMatchObject({ help: "/help", docs: "/docs" });
      expect(r.headers.vary).toMatch(/accept/i);
    }
  });

  it("serves the page to a browser, with a policy that allows only its own scripts and API", async () => {
    const r = await get(stack.url, "/", { accept: "text/html,application/xhtml+xml,*/*;q=0.8" });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/html; charset=utf-8");
    const html = r.body.toString();
    expect(html).toContain('<script type="module" src="/playground/app.js">');
    expect(html).not.toMatch(/https?:\/\//);
    const csp = String(r.headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("is public with API_KEYS set, as are its assets; the API is not", async () => {
    expect((await get(keyed.url, "/", { accept: "text/html" })).status).toBe(200);
    expect((await get(keyed.url, "/playground/app.js")).status).toBe(200);
    expect((await get(keyed.url, "/playground/vendor/marked.esm.js")).status).toBe(200);
    expect((await get(keyed.url, "/models/available")).status).toBe(401);
    expect((await get(keyed.url, "/playground/nope.js")).status).toBe(404);
  });
});

describe("the assets", () => {
  it("serves the vendor builds of marked and DOMPurify from the service, without source-map comments", async () => {
    for (const path of ["/playground/vendor/marked.esm.js", "/playground/vendor/purify.es.mjs"]) {
      const r = await get(stack.url, path);
      expect(r.status, path).toBe(200);
      expect(r.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      expect(r.body.toString()).toMatch(/export\s*\{/);
      expect(r.body.toString()).not.toContain("sourceMappingURL");
    }
  });

  it("compresses with brotli or gzip as accepted, and revalidates with an ETag", async () => {
    const plain = await get(stack.url, "/playground/vendor/purify.es.mjs");
    const br = await get(stack.url, "/playground/vendor/purify.es.mjs", { "accept-encoding": "gzip, br" });
    const gz = await get(stack.url, "/playground/vendor/purify.es.mjs", { "accept-encoding": "gzip" });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(br.headers["content-encoding"]).toBe("br");
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    expect(br.body.length).toBeLessThan(plain.body.length / 3);
    expect(br.headers.vary).toBe("accept-encoding");

    const etag = String(plain.headers.etag);
    const again = await get(stack.url, "/playground/vendor/purify.es.mjs", { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it("answers 404 for anything else under /playground, and serves the page only at /", async () => {
    for (const path of [
      "/playground/nope.js",
      "/playground/index.html",
      "/playground/page-logic.test.ts",
      "/playground/../package.json",
    ]) {
      const r = await get(stack.url, path);
      expect(r.status, path).toBe(404);
    }
    const r = await get(stack.url, "/playground/missing.css");
    expect(JSON.parse(r.body.toString())).toEqual({
      detail: "Not Found: GET /playground/missing.css",
      code: "not_found",
    });
  });

  it("stays out of /help and the OpenAPI document, where GET / is listed", async () => {
    const help = JSON.parse((await get(stack.url, "/help")).body.toString());
    const paths = help.endpoints.map((e: { path: string }) => e.path);
    expect(paths).toContain("/");
    expect(paths.some((p: string) => p.startsWith("/playground"))).toBe(false);
    const openapi = JSON.parse((await get(stack.url, "/openapi.json")).body.toString());
    expect(Object.keys(openapi.paths).some((p) => p.startsWith("/playground"))).toBe(false);
  });
});
