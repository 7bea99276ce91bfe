import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectNoWarnings } from "./api/helpers.ts";
import { postJson, postNdjson, type Stack, startStack } from "./helpers/stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ emulator: { preload: ["qwen/qwen3-4b-2507"] } });
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});

describe("smoke", () => {
  it("chats through the emulator", async () => {
    const r = await postJson(`${stack.url}/chat/regular`, {
      messages: [{ role: "user", content: "What is 2+2?" }],
    });
    expect(r.status).toBe(200);
    expect(r.json.content).toContain("What is 2+2?");
    expect(stack.emu.chats.at(-1)?.outcome).toBe("finished");
  });
  it("streams NDJSON", async () => {
    const r = await postNdjson(`${stack.url}/chat/regular/stream`, {
      messages: [{ role: "user", content: "hi" }],
    });
    expect(r.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(r.lines.at(-1).type).toBe("done");
  });
});
