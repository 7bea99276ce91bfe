// upstreams/multi: several upstreams behind one Upstream: routing, health, failover, merged lists.
import type { DownloadedModel, LoadedModel, Upstream } from "../types.ts";

/** How long a member's listing is trusted for routing: as long as the model gate trusts its own. */
export const LISTING_FRESH_MS = 1_000;
/** Downloaded models change rarely (a download finishing): placement may use an older listing. */
const DOWNLOADED_FRESH_MS = 10_000;

export interface MemberSettings {
  name: string;
  kind: "lmstudio" | "openai";
  url: string;
  capacity: number;
  weight: number;
}

/**
 * One upstream of several, with what routing needs to know about it: whether it answers, how busy
 * it is (chats in flight), and what it has loaded and downloaded (listings shared by concurrent
 * callers, so that a burst of chats costs one listing per member).
 */
export class Member {
  readonly settings: MemberSettings;
  readonly upstream: Upstream;
  state: "up" | "down" | "unknown" = "unknown";
  version: string | undefined;
  lastError: string | undefined;
  /** Consecutive failed checks: the backoff's exponent. */
  failures = 0;
  inflight = 0;
  #loaded: LoadedModel[] = [];
  #loadedAt = Number.NEGATIVE_INFINITY;
  #listing: Promise<LoadedModel[]> | undefined;
  #downloaded: DownloadedModel[] = [];
  #downloadedAt = Number.NEGATIVE_INFINITY;

  constructor(settings: MemberSettings, upstream: Upstream) {
    this.settings = settings;
    this.upstream = upstream;
  }

  get name(): string {
    return this.settings.name;
  }

  get canLoad(): boolean {
    return this.upstream.capabilities.loadUnload;
  }

  /** Usable for routing: up, or not checked yet (the first requests must not wait for a check). */
  get usable(): boolean {
    return this.state !== "down";
  }

  get loaded(): readonly LoadedModel[] {
    return this.#loaded;
  }

  get downloaded(): readonly DownloadedModel[] {
    return this.#downloaded;
  }

  markUp(version?: string): void {
    this.state = "up";
    this.failures = 0;
    if (version !== undefined) this.version = version;
  }

  markDown(error: unknown): void {
    this.state = "down";
    this.failures++;
    this.lastError = error instanceof Error ? error.message : String(error);
    // What it had loaded is unknown until it answers again.
    this.#loadedAt = Number.NEGATIVE_INFINITY;
  }

  /** Its loaded models, tagged with its name; one listing however many callers ask at once. */
  listLoaded(maxAgeMs = 0): Promise<LoadedModel[]> {
    if (performance.now() - this.#loadedAt <= maxAgeMs) return Promise.resolve(this.#loaded);
    this.#listing ??= this.upstream.models
      .listLoaded()
      .then((models) => {
        this.#loaded = models.map((m) => ({ ...m, upstream: this.name }));
        this.#loadedAt = performance.now();
        return this.#loaded;
      })
      .finally(() => {
        this.#listing = undefined;
      });
    return this.#listing;
  }

  /** Its downloaded models (an engine without a catalogue: its loaded ones), tagged with its name. */
  async listDownloaded(maxAgeMs = 0): Promise<DownloadedModel[]> {
    if (performance.now() - this.#downloadedAt <= maxAgeMs) return this.#downloaded;
    const models = this.upstream.capabilities.listDownloaded
      ? await this.upstream.models.listDownloaded()
      : await this.listLoaded();
    this.#downloaded = models.map((m) => ({ ...m, upstream: this.name }));
    this.#downloadedAt = performance.now();
    return this.#downloaded;
  }

  /** Downloaded models for placing a load: a recent listing will do. */
  listDownloadedForPlacement(): Promise<DownloadedModel[]> {
    return this.listDownloaded(DOWNLOADED_FRESH_MS);
  }

  /** A load we made (or saw finish) is routed to at once, without waiting for the next listing. */
  rememberLoaded(model: LoadedModel): void {
    if (!this.#loaded.some((m) => m.identifier === model.identifier)) {
      this.#loaded = [...this.#loaded, { ...model, upstream: this.name }];
    }
  }

  forgetLoaded(name: string): void {
    this.#loaded = this.#loaded.filter((m) => m.identifier !== name && m.modelKey !== name);
  }
}
