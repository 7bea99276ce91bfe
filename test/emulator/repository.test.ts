/** Conformance of the emulator's `repository` namespace (search and download), driven by the real @lmstudio/sdk. */
import { LMStudioClient } from "@lmstudio/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { LmStudioEmulator } from "./emulator.ts";

const silentLogger = { info() {}, warn() {}, error() {}, debug() {} };
let emu: LmStudioEmulator;
let client: LMStudioClient;

beforeAll(async () => {
  emu = await LmStudioEmulator.start();
  client = new LMStudioClient({ baseUrl: emu.wsUrl, logger: silentLogger });
});
afterAll(async () => {
  expect(emu.warnings).toEqual([]);
  await client[Symbol.asyncDispose]().catch(() => {});
  await emu.stop();
});
beforeEach(() => emu.reset({ downloadTimeMs: 40, downloadSteps: 4 }));

describe("repository namespace", () => {
  it("searches the catalogue; an exact key is marked exact", async () => {
    const results = await client.repository.searchModels({ searchTerm: "qwen/qwen3-8b" });
    expect(results.map((r) => r.name)).toEqual(["qwen/qwen3-8b"]);
    expect(results[0]?.isExactMatch()).toBe(true);
    const many = await client.repository.searchModels({ searchTerm: "qwen" });
    expect(many.length).toBeGreaterThan(1);
  });

  it("downloads with progress, finalizing, then the model is downloaded", async () => {
    const [entry] = await client.repository.searchModels({ searchTerm: "qwen/qwen3-8b" });
    const options = (await entry?.getDownloadOptions()) ?? [];
    expect(options).toHaveLength(1);
    expect(options[0]?.isRecommended()).toBe(true);
    const progress: number[] = [];
    let finalizing = false;
    const key = await options[0]?.download({
      onProgress: (u) => progress.push(u.downloadedBytes / u.totalBytes),
      onStartFinalizing: () => {
        finalizing = true;
      },
    });
    expect(key).toBe("qwen/qwen3-8b");
    expect(progress).toEqual([0.25, 0.5, 0.75, 1]);
    expect(finalizing).toBe(true);
    expect(emu.downloads).toMatchObject([{ modelKey: "qwen/qwen3-8b", outcome: "downloaded" }]);
    const downloaded = await client.system.listDownloadedModels();
    expect(downloaded.map((m) => m.modelKey)).toContain("qwen/qwen3-8b");
  });

  it("a cancelled download rejects and is recorded as cancelled", async () => {
    // SDK 2.0.0's download() leaves a `promise.finally()` copy of its promise unhandled: a cancel
    // is also an unhandled rejection (which would end a service under Node's default policy).
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    onTestFinished(() => {
      process.off("unhandledRejection", onUnhandled);
    });
    emu.configure({ downloadTimeMs: 2_000, downloadSteps: 20 });
    const [entry] = await client.repository.searchModels({ searchTerm: "qwen/qwen3-8b" });
    const [option] = (await entry?.getDownloadOptions()) ?? [];
    const controller = new AbortController();
    const download = option?.download({
      signal: controller.signal,
      onProgress: () => controller.abort(new Error("stop")),
    });
    await expect(download).rejects.toThrow("stop");
    await emu.waitFor(() => emu.downloads[0]?.outcome === "cancelled");
    const downloaded = await client.system.listDownloadedModels();
    expect(downloaded.map((m) => m.modelKey)).not.toContain("qwen/qwen3-8b");
    await new Promise((r) => setImmediate(r));
    expect(unhandled).toEqual([expect.objectContaining({ message: "stop" })]);
  });
});
