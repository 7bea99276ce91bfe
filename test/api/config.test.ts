/**
 * Configuration as the running service applies it. loadConfig and .env parsing are unit-tested
 * in src/config.test.ts.
 */
import { describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { postJson, startStack } from "../helpers/stack.ts";
import { expectNoWarnings, getJson } from "./helpers.ts";

describe("configuration reaches the running service", () => {
  it("CORS_ORIGINS, default models and OPENAI_API_KEY", async () => {
    const emu = await LmStudioEmulator.start({ preload: ["google/gemma-3-1b"] });
    const stack = await startStack({
      emu,
      env: {
        CORS_ORIGINS: "http://app.example",
        DEFAULT_REGULAR_MODEL: "google/gemma-3-1b",
        OPENAI_API_KEY: "my-key",
      },
    });
    try {
      const allowed = await getJson(`${stack.url}/health`, { origin: "http://app.example" });
      expect(allowed.headers.get("access-control-allow-origin")).toBe("http://app.example");
      const other = await getJson(`${stack.url}/health`, { origin: "http://evil.example" });
      expect(other.headers.get("access-control-allow-origin")).not.toBe("http://evil.example");
      expect(other.headers.get("access-control-allow-origin")).not.toBe("*");

      const r = await postJson(`${stack.url}/chat/regular`, { messages: [{ role: "user", content: "hi" }] });
      expect(r.status).toBe(200);
      expect(emu.chats.at(-1)?.body.model).toBe("google/gemma-3-1b");
      expect(emu.chats.at(-1)?.authorization).toBe("Bearer my-key");
      expectNoWarnings(emu);
    } finally {
      await stack.close();
      await emu.stop();
    }
  });

  it('CORS_ORIGINS="*" allows any origin', async () => {
    const stack = await startStack();
    try {
      const r = await getJson(`${stack.url}/health`, { origin: "http://anything.example" });
      expect(r.headers.get("access-control-allow-origin")).toBe("*");
      expectNoWarnings(stack.emu);
    } finally {
      await stack.close();
    }
  });
});
