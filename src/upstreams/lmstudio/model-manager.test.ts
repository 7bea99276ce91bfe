import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../../../test/emulator/emulator.ts";
import { createModelManager } from "./model-manager.ts";

let emu: LmStudioEmulator;
let manager: ReturnType<typeof createModelManager>;

beforeAll(async () => {
  emu = await LmStudioEmulator.start({ preload: ["qwen/qwen3-4b-2507"] });
  manager = createModelManager({
    baseUrl: emu.wsUrl,
    sdkTimeoutMs: 2_000,
    loadTimeoutMs: 5_000,
    logger: pino({ level: "silent" }),
  });
});
afterAll(async () => {
  expect(emu.warnings).toEqual([]);
  await manager.close();
  await emu.stop();
});

describe("the LM Studio model manager (real SDK, emulator)", () => {
  it("maps instance info to the service's shape", async () => {
    const [m] = await manager.listLoaded();
    expect(m).toMatchObject({
      identifier: "qwen/qwen3-4b-2507",
      modelKey: "qwen/qwen3-4b-2507",
      type: "llm",
      trainedForToolUse: true,
      maxContextLength: 262144,
    });
    expect(m?.contextLength).toBeGreaterThan(0);
  });

  it("passes on what the SDK says of the file and of the instance's TTL", async () => {
    const [m] = await manager.listLoaded();
    expect(m).toMatchObject({ format: "gguf", path: expect.any(String), lastUsedTime: null });
    expect(m?.quantization).toEqual(expect.any(String));
    expect(m?.ttlMs === null || typeof m?.ttlMs === "number").toBe(true);
    const downloaded = await manager.listDownloaded();
    expect(downloaded.find((d) => d.modelKey === "qwen/qwen3-4b-2507")).toMatchObject({
      architecture: expect.any(String),
      paramsString: expect.any(String),
    });
  });

  it("treats unloading a model that is already gone as done", async () => {
    await expect(manager.unload({ identifier: "gone-already", type: "llm" })).resolves.toBeUndefined();
  });

  it("loads with progress, identifier, context length and TTL", async () => {
    const progress: number[] = [];
    const m = await manager.load({
      modelKey: "google/gemma-3-1b",
      identifier: "g",
      contextLength: 2048,
      ttlSeconds: 60,
      onProgress: (p) => progress.push(p),
    });
    expect(m).toMatchObject({ identifier: "g", modelKey: "google/gemma-3-1b", contextLength: 2048 });
    expect(progress.at(-1)).toBe(1);
    expect(emu.loads.at(-1)).toMatchObject({ identifier: "g", ttlMs: 60_000, contextLength: 2048 });
  });

  it("reports LM Studio's version", async () => {
    expect(await manager.version()).toBe(emu.version);
  });
});
