import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { type Stack, startStack } from "../helpers/stack.ts";
import { expectNoLeak, expectNoWarnings, getJson } from "./helpers.ts";

let emu: LmStudioEmulator;
let stack: Stack;

beforeAll(async () => {
  emu = await LmStudioEmulator.start({ version: "0.3.99" });
  stack = await startStack({ emu });
});
afterEach(() => expectNoWarnings(emu));
afterAll(async () => {
  await stack.close();
  await emu.stop();
});

describe("GET /health", () => {
  it("is ok with LM Studio's version and the default models", async () => {
    const r = await getJson(`${stack.url}/health`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    expect(r.json).toEqual({
      status: "ok",
      lmstudio: { reachable: true, version: "0.3.99", compatible: true },
      defaults: { regular_model: "qwen/qwen3-4b-2507", vision_model: "qwen3-vl-4b-instruct" },
      chats: { running: 0, queued: 0, per_model: {} },
    });
  });

  it("reports the configured default models", async () => {
    const other = await startStack({
      emu,
      env: { DEFAULT_REGULAR_MODEL: "google/gemma-3-1b", DEFAULT_VISION_MODEL: "my-vlm" },
    });
    try {
      const r = await getJson(`${other.url}/health`);
      expect(r.status).toBe(200);
      expect(r.json.defaults).toEqual({ regular_model: "google/gemma-3-1b", vision_model: "my-vlm" });
    } finally {
      await other.close();
    }
  });

  it("stays 200 but degraded (reachable:false) while LM Studio is down, and recovers when it is back", async () => {
    // Its own LM Studio, stopped and started again: the other tests keep theirs.
    let own = await LmStudioEmulator.start({ version: "0.3.99" });
    const port = own.port;
    const service = await startStack({ emu: own });
    try {
      expect((await getJson(`${service.url}/health`)).json.status).toBe("ok");
      expectNoWarnings(own);
      await own.stop();
      const down = await getJson(`${service.url}/health`);
      expect(down.status).toBe(200);
      expect(down.json.status).toBe("degraded");
      expect(down.json.lmstudio.reachable).toBe(false);
      expect(down.json.lmstudio.version).toBeUndefined();
      expect(down.json.defaults.regular_model).toBe("qwen/qwen3-4b-2507");
      expectNoLeak(down.text);

      // LM Studio comes back on the same port: no service restart needed.
      own = await LmStudioEmulator.start({ port, version: "0.3.100" });
      let back = await getJson(`${service.url}/health`);
      for (let i = 0; i < 20 && back.json.status !== "ok"; i++) {
        await new Promise((r) => setTimeout(r, 100));
        back = await getJson(`${service.url}/health`);
      }
      expect(back.status).toBe(200);
      expect(back.json.status).toBe("ok");
      expect(back.json.lmstudio).toEqual({ reachable: true, version: "0.3.100", compatible: true });
      expectNoWarnings(own);
    } finally {
      await service.close();
      await own.stop();
    }
  });
});
