import { describe, expect, it } from "vitest";
import type { DownloadOptions, ModelDownloader } from "../../upstreams/types.ts";
import { type Deferred, deferred, downloadedModel, fakeUpstream } from "./fake-upstream.test-helper.ts";
import { type DownloadEvent, ModelDownloads } from "./model-downloads.ts";
import { ModelGate } from "./model-gate.ts";

/** A downloader whose downloads the test finishes. */
class FakeDownloader implements ModelDownloader {
  readonly calls: Array<{ opts: DownloadOptions; done: Deferred<{ modelKey: string }> }> = [];
  download(opts: DownloadOptions) {
    const done = deferred<{ modelKey: string }>();
    this.calls.push({ opts, done });
    return done.promise;
  }
}

function setup() {
  const upstream = fakeUpstream({ downloaded: [downloadedModel("qwen/qwen3-4b-2507")] });
  const downloader = new FakeDownloader();
  const gate = new ModelGate(upstream, () => false, new Map([["small", "qwen/qwen3-8b"]]));
  return { downloader, downloads: new ModelDownloads({ ...upstream, downloads: downloader }, gate) };
}

describe("ModelDownloads", () => {
  it("a downloaded model (any case) needs no download", async () => {
    const { downloader, downloads } = setup();
    expect(await downloads.pull("Qwen/Qwen3-4B-2507", () => {})).toEqual({
      modelKey: "qwen/qwen3-4b-2507",
      alreadyDownloaded: true,
    });
    expect(downloader.calls).toHaveLength(0);
  });

  it("two pulls of one model (an alias, any case) share one download and both hear its progress", async () => {
    const { downloader, downloads } = setup();
    const heard: DownloadEvent[][] = [[], []];
    const a = downloads.pull("small", (e) => heard[0]?.push(e));
    const b = downloads.pull("QWEN/qwen3-8b", (e) => heard[1]?.push(e));
    await new Promise((r) => setImmediate(r));
    expect(downloader.calls).toHaveLength(1);
    expect(downloader.calls[0]?.opts.name).toBe("qwen/qwen3-8b");
    downloader.calls[0]?.opts.onProgress({ downloadedBytes: 5, totalBytes: 10 });
    downloader.calls[0]?.opts.onFinalizing();
    downloader.calls[0]?.done.resolve({ modelKey: "qwen/qwen3-8b" });
    expect(await a).toEqual({ modelKey: "qwen/qwen3-8b", alreadyDownloaded: false });
    expect(await b).toEqual({ modelKey: "qwen/qwen3-8b", alreadyDownloaded: false });
    const events = [{ type: "progress", downloadedBytes: 5, totalBytes: 10 }, { type: "finalizing" }];
    expect(heard).toEqual([events, events]);
  });

  it("a caller that leaves stops hearing; the download goes on for the others", async () => {
    const { downloader, downloads } = setup();
    const controller = new AbortController();
    const left: DownloadEvent[] = [];
    const stays: DownloadEvent[] = [];
    const a = downloads.pull("qwen/qwen3-8b", (e) => left.push(e), controller.signal);
    const b = downloads.pull("qwen/qwen3-8b", (e) => stays.push(e));
    await new Promise((r) => setImmediate(r));
    controller.abort();
    downloader.calls[0]?.opts.onProgress({ downloadedBytes: 1, totalBytes: 2 });
    downloader.calls[0]?.done.resolve({ modelKey: "qwen/qwen3-8b" });
    await Promise.all([a, b]);
    expect(left).toEqual([]);
    expect(stays).toHaveLength(1);
  });

  it("an upstream that cannot download says so", async () => {
    const upstream = fakeUpstream();
    const downloads = new ModelDownloads(upstream, new ModelGate(upstream, () => false));
    await expect(downloads.pull("x/y", () => {})).rejects.toMatchObject({ code: "not_supported" });
  });
});
