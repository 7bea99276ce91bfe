import { ServiceError } from "../errors.ts";
import type { DownloadedModel, LoadedModel, ModelManager } from "../upstream/types.ts";
import { closeMatches } from "./close-matches.ts";

export interface EnsureLoadedOptions {
  modelKey: string;
  identifier?: string;
  contextLength?: number;
  ttlSeconds?: number;
  /** Unload every other model first. */
  exclusive?: boolean;
  /** This caller's interest; the load itself is cancelled only when every waiter has gone. */
  signal?: AbortSignal;
  onProgress?: (progress: number) => void;
}

export interface EnsureLoadedResult {
  model: LoadedModel;
  unloaded: string[];
  alreadyLoaded: boolean;
}

export interface AvailableModel extends DownloadedModel {
  loadedIdentifiers: string[];
}

interface SharedLoad {
  promise: Promise<EnsureLoadedResult>;
  controller: AbortController;
  waiters: number;
  exclusive: boolean;
  listeners: Set<(progress: number) => void>;
}

const matches = (m: LoadedModel, key: string) => m.identifier === key || m.modelKey === key;

/**
 * Loading and unloading on top of any ModelManager, with the rules LM Studio itself lacks: one
 * upstream load per model key no matter how many callers ask at once (LM Studio's own JIT stacks
 * `key:2`, `key:3` duplicates), "already loaded" is a success, and a load nobody waits for any more
 * is cancelled.
 */
export class ModelService {
  readonly #manager: ModelManager;
  readonly #isBusy: (model: LoadedModel) => boolean;
  readonly #inflight = new Map<string, SharedLoad>();
  /**
   * Names (identifiers and keys) seen loaded. Chats for these go straight upstream; others are
   * loaded through #inflight first, so that LM Studio's own JIT never races itself into `key:2`.
   */
  readonly #known = new Set<string>();

  constructor(manager: ModelManager, isBusy: (model: LoadedModel) => boolean) {
    this.#manager = manager;
    this.#isBusy = isBusy;
  }

  version(): Promise<string> {
    return this.#manager.version();
  }

  async listLoaded(): Promise<LoadedModel[]> {
    const loaded = await this.#manager.listLoaded();
    this.#known.clear();
    for (const m of loaded) this.#remember(m);
    return loaded;
  }

  isKnownLoaded(name: string): boolean {
    return this.#known.has(name);
  }

  /** Called when upstream says a model we thought loaded is not (unloaded by TTL, or by hand). */
  forget(name: string): void {
    this.#known.delete(name);
  }

  #remember(m: LoadedModel): void {
    this.#known.add(m.identifier);
    this.#known.add(m.modelKey);
  }

  async listAvailable(): Promise<AvailableModel[]> {
    const [downloaded, loaded] = await Promise.all([
      this.#manager.listDownloaded(),
      this.#manager.listLoaded(),
    ]);
    return downloaded.map((d) => ({
      ...d,
      loadedIdentifiers: loaded.filter((l) => l.modelKey === d.modelKey).map((l) => l.identifier),
    }));
  }

  /** Unloads every instance matching `key` (identifier or model key), or all when `key` is undefined. */
  async unload(key: string | undefined): Promise<string[]> {
    const loaded = await this.listLoaded();
    const targets = key === undefined ? loaded : loaded.filter((m) => matches(m, key));
    if (key !== undefined && targets.length === 0) {
      const names = loaded.map((m) => m.identifier);
      throw new ServiceError(
        404,
        "nothing_to_unload",
        `No loaded model matches "${key}" (loaded: ${names.length ? names.join(", ") : "none"})`,
      );
    }
    await this.#unloadAll(targets);
    return targets.map((m) => m.identifier);
  }

  async ensureLoaded(opts: EnsureLoadedOptions): Promise<EnsureLoadedResult> {
    const key = `${opts.modelKey}\u0000${opts.identifier ?? ""}`;
    let shared = this.#inflight.get(key);
    if (!shared) {
      const controller = new AbortController();
      const listeners = new Set<(progress: number) => void>();
      const promise = this.#loadOnce(opts, controller.signal, (p) => {
        for (const l of listeners) l(p);
      }).finally(() => this.#inflight.delete(key));
      shared = { promise, controller, waiters: 0, exclusive: opts.exclusive === true, listeners };
      this.#inflight.set(key, shared);
    }
    const result = await this.#wait(shared, opts);
    // A caller that asked for exclusivity but joined a non-exclusive load still gets it.
    if (opts.exclusive && !shared.exclusive) {
      const loaded = await this.listLoaded();
      const more = await this.#unloadOthers(loaded, result.model.identifier);
      return { ...result, unloaded: [...new Set([...result.unloaded, ...more])] };
    }
    return result;
  }

  #wait(shared: SharedLoad, opts: EnsureLoadedOptions): Promise<EnsureLoadedResult> {
    const { signal, onProgress } = opts;
    signal?.throwIfAborted();
    shared.waiters++;
    if (onProgress) shared.listeners.add(onProgress);
    return new Promise<EnsureLoadedResult>((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        shared.waiters--;
        if (onProgress) shared.listeners.delete(onProgress);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        if (left) return;
        leave();
        if (shared.waiters === 0) shared.controller.abort(new Error("every caller went away"));
        reject(new ServiceError(499, "cancelled", `Cancelled while waiting for "${opts.modelKey}" to load`));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      shared.promise.then(
        (r) => {
          if (left) return;
          leave();
          resolve(r);
        },
        (e) => {
          if (left) return;
          leave();
          reject(e);
        },
      );
    });
  }

  async #loadOnce(
    opts: EnsureLoadedOptions,
    signal: AbortSignal,
    onProgress: (p: number) => void,
  ): Promise<EnsureLoadedResult> {
    const loaded = await this.listLoaded();
    const existing = loaded.find((m) =>
      opts.identifier
        ? m.identifier === opts.identifier && m.modelKey === opts.modelKey
        : matches(m, opts.modelKey),
    );
    const unloaded = opts.exclusive ? await this.#unloadOthers(loaded, existing?.identifier) : [];
    if (existing) return { model: existing, unloaded, alreadyLoaded: true };

    const downloaded = await this.#manager.listDownloaded();
    const entry =
      downloaded.find((d) => d.modelKey === opts.modelKey) ??
      downloaded.find((d) => d.modelKey.toLowerCase() === opts.modelKey.toLowerCase());
    if (!entry) throw notDownloaded(opts.modelKey, downloaded);
    signal.throwIfAborted();
    const model = await this.#manager.load({
      modelKey: entry.modelKey,
      type: entry.type,
      identifier: opts.identifier,
      contextLength: opts.contextLength,
      ttlSeconds: opts.ttlSeconds,
      signal,
      onProgress,
    });
    this.#remember(model);
    return { model, unloaded, alreadyLoaded: false };
  }

  async #unloadOthers(loaded: LoadedModel[], keep: string | undefined): Promise<string[]> {
    const others = loaded.filter((m) => m.identifier !== keep);
    const busy = others.filter((m) => this.#isBusy(m));
    if (busy.length > 0) {
      throw new ServiceError(
        409,
        "model_busy",
        `Cannot unload ${busy.map((m) => `"${m.identifier}"`).join(", ")}: chats are running on it. ` +
          "Retry when they finish, or load without exclusive",
        { headers: { "retry-after": "1" } },
      );
    }
    await this.#unloadAll(others);
    return others.map((m) => m.identifier);
  }

  async #unloadAll(models: LoadedModel[]): Promise<void> {
    // Forget first: a chat racing the unload then goes through ensureLoaded, not straight upstream.
    for (const m of models) {
      this.#known.delete(m.identifier);
      this.#known.delete(m.modelKey);
    }
    await Promise.all(models.map((m) => this.#manager.unload(m)));
  }
}

export function notDownloaded(modelKey: string, downloaded: DownloadedModel[]): ServiceError {
  const suggestions = closeMatches(
    modelKey,
    downloaded.map((d) => d.modelKey),
  );
  const hint = suggestions.length ? `; did you mean ${suggestions.map((s) => `"${s}"`).join(", ")}?` : "";
  return new ServiceError(
    404,
    "model_not_found",
    `Model "${modelKey}" is not downloaded in LM Studio${hint} (GET /models/available lists them)`,
    { extra: { suggestions } },
  );
}
