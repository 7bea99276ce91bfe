/**
 * Docs and behaviour cannot drift, errors included: every error the reference API answers is a
 * status its OpenAPI operation declares, with a body that its declared schema accepts.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { type Stack, startStack } from "../helpers/stack.ts";
import type { Json } from "./helpers.ts";

const MODEL = "qwen/qwen3-4b-2507";
const hi = { model_key: MODEL, messages: [{ role: "user", content: "hi" }] };

let stack: Stack;
let keyed: Stack;
let down: Stack;
let deadEmu: LmStudioEmulator;
let openapi: Json;
const ajv = new Ajv2020({ strict: false, allErrors: true });

beforeAll(async () => {
  stack = await startStack({
    env: {
      MAX_BODY_BYTES: "4096",
      MAX_CONCURRENT_CHATS: "1",
      MAX_QUEUED_CHATS: "0",
      FIRST_TOKEN_TIMEOUT_MS: "300",
    },
    emulator: { preload: [MODEL] },
  });
  keyed = await startStack({ env: { API_KEYS: "k" }, emulator: { preload: [MODEL] } });
  deadEmu = await LmStudioEmulator.start();
  down = await startStack({ emu: deadEmu });
  await deadEmu.stop();
  openapi = await (await fetch(`${stack.url}/openapi.json`)).json();
});
afterAll(async () => {
  await Promise.all([stack.close(), keyed.close(), down.close()]);
});

async function expectDeclared(path: string, status: number, res: Response) {
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(status);
  const declared = openapi.paths[path]?.post?.responses?.[String(status)];
  expect(declared, `${path} declares ${status}`).toBeDefined();
  const schema = declared.content?.["application/json"]?.schema;
  expect(schema, `${path} ${status} has a JSON schema`).toBeDefined();
  const validate = ajv.compile(schema);
  expect(
    validate(body),
    `${path} ${status}: ${JSON.stringify(body)} ${ajv.errorsText(validate.errors)}`,
  ).toBe(true);
}

const post = (s: Stack, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("every error answer is declared in the OpenAPI document, with its schema", () => {
  for (const path of ["/chat", "/chat/stream", "/models/load", "/models/unload"]) {
    it(`${path}: 400, 401, 413, 415, 422`, async () => {
      await expectDeclared(path, 400, await post(stack, path, "{"));
      await expectDeclared(path, 401, await post(keyed, path, hi));
      await expectDeclared(path, 413, await post(stack, path, { x: "y".repeat(5000) }));
      await expectDeclared(path, 415, await post(stack, path, "x", { "content-type": "text/plain" }));
      await expectDeclared(path, 422, await post(stack, path, { messages: 1, model_key: 2, unload_all: 3 }));
    });
  }

  for (const path of ["/chat", "/chat/stream"]) {
    it(`${path}: 404, 429, 502, 503, 504`, async () => {
      await expectDeclared(path, 404, await post(stack, path, { ...hi, model_key: "nobody/nothing" }));
      stack.emu.failNextChat({ status: 500, body: { error: "boom" } });
      await expectDeclared(path, 502, await post(stack, path, hi));
      await expectDeclared(path, 503, await post(down, path, hi));

      stack.emu.hangNextChat();
      const slow = post(stack, path, hi);
      await stack.emu.waitFor(() => stack.emu.chats.some((c) => c.outcome === "pending"));
      await expectDeclared(path, 429, await post(stack, path, hi));
      await expectDeclared(path, 504, await slow);
    });
  }

  it("/models/load: 404, 409, 503", async () => {
    await expectDeclared(
      "/models/load",
      404,
      await post(stack, "/models/load", { model_key: "nobody/nothing" }),
    );
    stack.emu.reset({ preload: [{ modelKey: MODEL, identifier: "taken" }] });
    await expectDeclared(
      "/models/load",
      409,
      await post(stack, "/models/load", { model_key: "google/gemma-3-1b", identifier: "taken" }),
    );
    await expectDeclared("/models/load", 503, await post(down, "/models/load", { model_key: MODEL }));
  });

  it("/models/unload: 404, 503", async () => {
    await expectDeclared(
      "/models/unload",
      404,
      await post(stack, "/models/unload", { model_key: "nothing" }),
    );
    await expectDeclared("/models/unload", 503, await post(down, "/models/unload", { unload_all: true }));
  });
});
