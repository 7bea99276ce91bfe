/**
 * An LM Studio whose answers do not fit the SDK's schemas (0.3 in front of SDK 2.0, which a token
 * selects): the skew is seen at once, not waited out, and chats with loaded models go on over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJson } from "../api/helpers.ts";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const TOKEN = "sk-lm-abcd1234:abcdefghij0123456789";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    env: { LMSTUDIO_API_TOKEN: TOKEN, SDK_TIMEOUT_MS: "10000" },
    emulator: { profile: "0.3", preload: [MODEL] },
  });
});
afterAll(async () => {
  await stack.close();
});

describe("LM Studio 0.3 behind the SDK 2.0 (a token is set)", () => {
  it("/health reports the skew within 1 s, with the version and what to do", async () => {
    const t0 = performance.now();
    const r = await getJson(`${stack.url}/health`);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(r.status).toBe(200);
    expect(r.json.status).toBe("degraded");
    expect(r.json.lmstudio).toMatchObject({ reachable: true, version: stack.emu.version, compatible: false });
    expect(r.json.lmstudio.incompatibility).toMatch(/^LM Studio 0\.3\.\d+ does not speak .*update LM Studio/);
    expect(stack.logs.some((l) => l.includes("disagree on the protocol"))).toBe(true);
  });

  it("chats with a loaded model still succeed, without waiting for any timeout", async () => {
    const t0 = performance.now();
    const r = await postJson(`${stack.url}/chat`, {
      model_key: MODEL,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(r.status).toBe(200);
    expect(r.json.content).toContain("Hello");
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  it("lists loaded models over LM Studio's REST API", async () => {
    const r = await getJson(`${stack.url}/models`);
    expect(r.status).toBe(200);
    expect(r.json.models.map((m: { identifier: string }) => m.identifier)).toEqual([MODEL]);
  });

  it("model management answers 502 at once, naming LM Studio's version and 'update LM Studio'", async () => {
    const t0 = performance.now();
    const r = await postJson(`${stack.url}/models/load`, { model_key: "google/gemma-3-1b" });
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(r.status).toBe(502);
    expect(r.json.code).toBe("upstream_incompatible");
    expect(r.json.error).toMatch(/LM Studio 0\.3\.\d+ .*update LM Studio/);
  });
});
