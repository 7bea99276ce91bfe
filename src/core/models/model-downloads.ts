/** Core: model downloads, one per model however many callers ask for it at once. */
import { ServiceError } from "../../errors.ts";
import type { DownloadProgress, Upstream } from "../../upstreams/types.ts";
import type { ModelGate } from "./model-gate.ts";
import { resolveModelName } from "./resolve-model-name.ts";

export type DownloadEvent = ({ type: "progress" } & DownloadProgress) | { type: "finalizing" };

export interface PullResult {
  modelKey: string;
  alreadyDownloaded: boolean;
}

interface Shared {
  promise: Promise<{ modelKey: string }>;
  listeners: Set<(e: DownloadEvent) => void>;
}

export class ModelDownloads {
  readonly #upstream: Pick<Upstream, "name" | "downloads">;
  readonly #models: ModelGate;
  readonly #inflight = new Map<string, Shared>();

  constructor(upstream: Pick<Upstream, "name" | "downloads">, models: ModelGate) {
    this.#upstream = upstream;
    this.#models = models;
  }

  /**
   * Downloads `name` unless it is downloaded already; `onEvent` hears the progress. A caller that
   * goes away (`signal`) stops hearing it; the download itself goes on (see ModelDownloader).
   */
  async pull(name: string, onEvent: (e: DownloadEvent) => void, signal?: AbortSignal): Promise<PullResult> {
    const wanted = this.#models.dealias(name);
    const downloaded = await this.#models.listDownloaded();
    const r = resolveModelName(
      wanted,
      downloaded.map((d) => d.modelKey),
    );
    if (r.kind === "found") return { modelKey: r.name, alreadyDownloaded: true };
    const downloader = this.#upstream.downloads;
    if (!downloader) {
      throw new ServiceError(409, "not_supported", `${this.#upstream.name} cannot download models`);
    }
    const key = wanted.toLowerCase();
    let shared = this.#inflight.get(key);
    if (!shared) {
      const listeners = new Set<(e: DownloadEvent) => void>();
      const emit = (e: DownloadEvent) => {
        for (const l of listeners) l(e);
      };
      const promise = downloader
        .download({
          name: wanted,
          onProgress: (p) => emit({ type: "progress", ...p }),
          onFinalizing: () => emit({ type: "finalizing" }),
        })
        .finally(() => this.#inflight.delete(key));
      shared = { promise, listeners };
      this.#inflight.set(key, shared);
    }
    const listeners = shared.listeners;
    listeners.add(onEvent);
    const leave = () => listeners.delete(onEvent);
    signal?.addEventListener("abort", leave, { once: true });
    try {
      const { modelKey } = await shared.promise;
      return { modelKey, alreadyDownloaded: false };
    } finally {
      leave();
      signal?.removeEventListener("abort", leave);
    }
  }
}
