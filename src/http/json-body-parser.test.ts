import fc from "fast-check";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { hasPoisonedKey, registerJsonBodyParser } from "./json-body-parser.ts";

describe("hasPoisonedKey", () => {
  it("finds what Fastify's default parser refuses, at any depth", () => {
    expect(hasPoisonedKey(JSON.parse('{"__proto__":{"x":1}}'))).toBe(true);
    expect(hasPoisonedKey(JSON.parse('{"a":[{"b":{"__proto__":1}}]}'))).toBe(true);
    expect(hasPoisonedKey(JSON.parse('{"constructor":{"prototype":{"x":1}}}'))).toBe(true);
    expect(hasPoisonedKey(JSON.parse('{"constructor":"a string"}'))).toBe(false);
    expect(hasPoisonedKey(JSON.parse('{"messages":[{"role":"user","content":"__proto__"}]}'))).toBe(false);
    const deep = 100_000;
    expect(hasPoisonedKey(JSON.parse(`${'{"a":'.repeat(deep)}{"__proto__":1}${"}".repeat(deep)}`))).toBe(
      true,
    );
    expect(hasPoisonedKey(JSON.parse(`${"[".repeat(deep)}${"]".repeat(deep)}`))).toBe(false);
  });
});

describe("registerJsonBodyParser", () => {
  it("answers like Fastify's default parser: same values, same error codes", async () => {
    const ours = Fastify();
    registerJsonBodyParser(ours);
    const theirs = Fastify();
    for (const app of [ours, theirs]) app.post("/", async (request) => ({ body: request.body }));
    const bodies = fc.sample(
      fc.oneof(
        fc.json(),
        fc.string(),
        fc.constantFrom(
          "",
          "{",
          '{"__proto__":{}}',
          '{"a":{"constructor":{"prototype":{}}}}',
          "[1,2",
          "null",
        ),
      ),
      300,
    );
    for (const payload of bodies) {
      const [a, b] = await Promise.all(
        [ours, theirs].map((app) =>
          app.inject({ method: "POST", url: "/", headers: { "content-type": "application/json" }, payload }),
        ),
      );
      expect({ payload, status: a?.statusCode, body: a?.body }).toEqual({
        payload,
        status: b?.statusCode,
        body: b?.body,
      });
    }
  });
});

describe("registerJsonBodyParser with long strings (cut out of the parse, then put back)", () => {
  it("answers like Fastify's default parser, and a route may keep one as bytes", async () => {
    const long = "QUJD+/=".repeat(5000);
    const kept: string[] = [];
    const ours = Fastify();
    registerJsonBodyParser(ours, (value, strings) => {
      const v = value as { keep?: unknown[] };
      const k = strings.indexOf(v.keep?.[0]);
      if (k === undefined || !v.keep) return;
      kept.push(Buffer.concat(strings.pieces(k)).toString("latin1"));
      v.keep[0] = "kept";
    });
    const theirs = Fastify();
    for (const app of [ours, theirs]) app.post("/", async (request) => ({ body: request.body }));
    for (const payload of [
      `{"a":["${long}"],"b":{"c":"${long}\\u00e9\\n"},"top":"${long}"}`,
      `{"a":["${long}", "é${long}", "${long}"]}`,
      `{"a":["${long}\\x"]}`,
      `{"a":["${long}\u0001"]}`,
      `{"a":["${long}" "${long}"]}`,
      `{"a":["${long}"],"__proto__":{"x":1}}`,
      `{"a":["\u0000${long}"]}`,
    ]) {
      const [a, b] = await Promise.all(
        [ours, theirs].map((app) =>
          app.inject({ method: "POST", url: "/", headers: { "content-type": "application/json" }, payload }),
        ),
      );
      expect({ status: a?.statusCode, body: a?.body }, payload.slice(0, 40)).toEqual({
        status: b?.statusCode,
        body: b?.body,
      });
    }
    const r = await ours.inject({
      method: "POST",
      url: "/",
      headers: { "content-type": "application/json" },
      payload: `{"keep":["${long}"],"other":["${long}"]}`,
    });
    expect(r.json()).toEqual({ body: { keep: ["kept"], other: [long] } });
    expect(kept).toEqual([long]);
  });
});

describe("hasPoisonedKey on deep documents", () => {
  it("walks 100,000 levels without overflowing the stack", () => {
    const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    expect(hasPoisonedKey(deep)).toBe(false);
    const poisoned = JSON.parse(`${'{"a":'.repeat(50_000)}{"__proto__":{}}${"}".repeat(50_000)}`);
    expect(hasPoisonedKey(poisoned)).toBe(true);
  });
});
