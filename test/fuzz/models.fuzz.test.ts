/**
 * Never crash on input, model endpoints: 1,000 generated invalid bodies each for /models/load,
 * /models/load/stream (a 422 before any NDJSON starts) and /models/unload; and, for all nine POST
 * endpoints, malformed JSON, empty bodies, extreme nesting and wrong content types.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { expect, it } from "vitest";
import { malformedJson } from "./arbitraries.ts";
import {
  CHAT_ENDPOINTS,
  checkErrorAnswer,
  defineFuzzSuite,
  MODEL_ENDPOINTS,
  post,
  RUNS,
  SEED,
} from "./suite.ts";

const ALL = [...MODEL_ENDPOINTS, ...CHAT_ENDPOINTS];

defineFuzzSuite("models", MODEL_ENDPOINTS, ({ stack, expectHealthy, expectNothingUpstream }) => {
  it(`malformed JSON: ${RUNS} truncated / trailing garbage / JS-isms / invalid UTF-8 bodies are 400`, async () => {
    const arb = fc
      .constantFrom(...ALL)
      .chain(({ path, valid }) => malformedJson(valid).map((m) => ({ path, ...m })));
    await fc.assert(
      fc.asyncProperty(arb, async ({ path, label, body }) => {
        const a = await post(`${stack().url}${path}`, body);
        checkErrorAnswer({ label: `${path} ${label}`, text: "", status: [400] }, a);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    await expectHealthy();
    expectNothingUpstream();
  }, 60_000);

  it("an empty body is 400 with content-type application/json, a 4xx without one", async () => {
    for (const { path } of ALL) {
      checkErrorAnswer(
        { label: `${path} empty`, text: "", status: [400] },
        await post(`${stack().url}${path}`, ""),
      );
      const none = await post(`${stack().url}${path}`, Buffer.alloc(0), null);
      checkErrorAnswer({ label: `${path} empty, no content-type`, text: "", status: [400, 415, 422] }, none);
    }
    expectNothingUpstream();
  });

  it("nesting far beyond the generators (100,000 levels) is a 4xx", async () => {
    const n = 100_000;
    const bodies = [
      `{"messages":${"[".repeat(n)}${"]".repeat(n)}}`,
      `{"model_key":"x","x":${'{"a":'.repeat(n)}1${"}".repeat(n)}}`,
      `${"[".repeat(n)}${"]".repeat(n)}`,
    ];
    for (const { path } of ALL) {
      for (const body of bodies) {
        const a = await post(`${stack().url}${path}`, body);
        checkErrorAnswer({ label: `${path} deep`, text: "", status: [400, 422] }, a);
      }
    }
    await expectHealthy();
    expectNothingUpstream();
  }, 30_000);

  it("wrong content types are 415 with a detail, even when the bytes are a valid JSON body", async () => {
    const kinds: Array<[string | null, string]> = [
      ["text/plain", "text/plain"],
      ["text/plain;charset=UTF-8", "text/plain;charset=UTF-8 (fetch's default, a CORS 'simple' request)"],
      ["multipart/form-data; boundary=x", "multipart"],
      ["application/x-www-form-urlencoded", "form"],
      ["application/xml", "xml"],
      ["application/jsonx", "almost json"],
      ["application/vnd.api+json", "json suffix"],
      [null, "no content-type"],
    ];
    const wrong: string[] = [];
    for (const { path, valid } of ALL) {
      const body = JSON.stringify(fc.sample(valid, { numRuns: 1, seed: SEED })[0]);
      for (const [type, label] of kinds) {
        const a = await post(`${stack().url}${path}`, body, type);
        // every answer is a 4xx JSON error with a detail...
        checkErrorAnswer({ label: `${path} ${label}`, text: "", status: [400, 415, 422] }, a);
        // ...and specifically 415 Unsupported Media Type (or 400)
        if (a.status !== 415 && a.status !== 400) wrong.push(`${path} ${label} -> ${a.status}`);
      }
    }
    expect(wrong).toEqual([]);
    await expectHealthy();
    expectNothingUpstream();
  }, 30_000);

  it("300 random content types with an invalid body: always a 4xx with a detail", async () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    });
    const type = fc.oneof(
      printable,
      fc
        .tuple(
          fc.constantFrom("application/json", "text/plain", "multipart/form-data", "application/*"),
          printable,
        )
        .map(([t, params]) => `${t};${params}`),
    );
    const arb = fc.tuple(fc.constantFrom(...ALL), type, fc.constantFrom("{}", "[]", '{"x":1}', "null"));
    await fc.assert(
      fc.asyncProperty(arb, async ([{ path }, contentType, body]) => {
        const a = await post(`${stack().url}${path}`, body, contentType);
        checkErrorAnswer(
          { label: `${path} ${JSON.stringify(contentType)}`, text: body, status: [400, 415, 422] },
          a,
        );
      }),
      { numRuns: 300, seed: SEED },
    );
    expectNothingUpstream();
  }, 30_000);

  it("a gzip-encoded body (not supported) is a 4xx with a detail", async () => {
    const body = gzipSync(JSON.stringify({ model_key: "qwen/qwen3-4b-2507" }));
    const res = await fetch(`${stack().url}/models/load`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: new Uint8Array(body),
    });
    const text = await res.text();
    checkErrorAnswer(
      { label: "gzip", text: "", status: [400, 415] },
      {
        status: res.status,
        contentType: res.headers.get("content-type") ?? "",
        text,
        json: JSON.parse(text),
      },
    );
    expectNothingUpstream();
  });

  it("a UTF-16 body labelled charset=utf-16 is refused with a 4xx", async () => {
    const body = Buffer.from(JSON.stringify({ model_key: "qwen/qwen3-4b-2507" }), "utf16le");
    for (const path of ["/models/load", "/models/load/stream"]) {
      const a = await post(`${stack().url}${path}`, body, "application/json; charset=utf-16");
      checkErrorAnswer({ label: `${path} utf-16`, text: "", status: [400, 415] }, a);
    }
    expectNothingUpstream();
  });
});
