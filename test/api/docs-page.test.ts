/** The docs as a new user meets them: titled for this service, public even with API_KEYS, true to /health. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { API_KEYS: "secret-key" } });
});
afterAll(async () => {
  await stack.close();
});

describe("/docs with API_KEYS set", () => {
  it("the page is public and titled for this service, not for Fastify or Swagger UI", async () => {
    const res = await fetch(`${stack.url}/docs/`, { redirect: "follow" });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/<title>lmstudio-service API<\/title>/);
    expect(html).not.toMatch(/<title>[^<]*(Swagger|Fastify)[^<]*<\/title>/i);
  });

  it("the OpenAPI document is public, links itself, and offers a bearer key to enter", async () => {
    const res = await fetch(`${stack.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    expect(doc.info.title).toBe("lmstudio-service");
    expect(doc.info.description).toContain("[/openapi.json](/openapi.json)");
    expect(doc.info.description).toMatch(/press Authorize and enter one/);
    expect(doc.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
  });

  it("documents /health's 503 while shutting down", async () => {
    const doc = await (await fetch(`${stack.url}/openapi.json`)).json();
    const health = doc.paths["/health"].get;
    expect(health.summary).toMatch(/503 while shutting down/);
    expect(Object.keys(health.responses)).toEqual(expect.arrayContaining(["200", "503"]));
  });
});
