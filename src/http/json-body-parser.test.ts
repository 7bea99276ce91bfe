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

describe("hasPoisonedKey on deep documents", () => {
  it("walks 100,000 levels without overflowing the stack", () => {
    const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    expect(hasPoisonedKey(deep)).toBe(false);
    const poisoned = JSON.parse(`${'{"a":'.repeat(50_000)}{"__proto__":{}}${"}".repeat(50_000)}`);
    expect(hasPoisonedKey(poisoned)).toBe(true);
  });
});
