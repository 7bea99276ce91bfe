/**
 * Core: the model gate. Loading and unloading on top of any upstream, with the rules upstreams lack.
 */
import { ServiceError } from "../../errors.ts";
import type { DownloadedModel, LoadedModel, Upstream, UpstreamStatus } from "../../upstreams/types.ts";
import { type ModelObserver, noObserver } from "../metrics/observer.ts";
import { loadOutcomeOf } from "../metrics/outcome.ts";
import { closeMatches } from "./close-matches.ts";
import { resolveModelName } from "./resolve-model-name.ts";

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
  /** The upstream to load it on, when the service fronts several. */
  upstream?: string;
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
  key: string;
  promise: Promise<EnsureLoadedResult>;
  controller: AbortController;
  waiters: number;
  exclusive: boolean;
  listeners: Set<(progress: number) => void>;
}

const namesOf = (m: LoadedModel) => [m.identifier, m.modelKey];
const matches = (m: LoadedModel, name: string) => m.identifier === name || m.modelKey === name;
/** Models on one upstream (all of them when no upstream is named: a single upstream's). */
const onUpstream = (upstream: string | undefined) => (m: { upstream?: string }) =>
  upstream === undefined || m.upstream === upstream;

/**
 * One upstream load per model however many callers ask at once (LM Studio's own JIT stacks
 * `key:2`, `key:3` duplicates); "already loaded" is a success; a load nobody waits for any more is
 * cancelled; a name in the wrong case means the model it names, never a second copy.
 */
export class ModelGate {
  readonly #upstream: Pick<Upstream, "name" | "capabilities" | "models" | "status">;
  readonly #isBusy: (model: LoadedModel) => boolean;
  readonly #inflight = new Map<string, SharedLoad>();
  /**
   * Names (identifiers and keys) seen loaded. Chats for these go straight upstream; others are
   * loaded through #inflight first, so that LM Studio's own JIT never races itself into `key:2`.
   */
  readonly #known = new Set<string>();
  /**
   * When #known was last read from the upstream. Past LOADED_MODELS_CACHE_MS, chats go through the gate
   * again (one shared listing): a model unloaded behind our back (TTL, LM Studio's UI) must not
   * reach LM Studio's own JIT from a burst of chats, which would load one copy per chat.
   */
  #knownAt = Number.NEGATIVE_INFINITY;

  /**
   * Model key of every name (identifier or key) ever seen loaded: the metrics label of a chat.
   * Never cleared, and bounded by the models the upstream has: a name a client made up never gets in.
   */
  readonly #keyOf = new Map<string, string>();

  readonly #aliases: ReadonlyMap<string, string>;
  /** How long a listing of the loaded models is trusted for sending chats straight upstream. */
  readonly #knownFreshMs: number;
  readonly #observer: ModelObserver;

  constructor(
    upstream: Pick<Upstream, "name" | "capabilities" | "models" | "status">,
    isBusy: (model: LoadedModel) => boolean,
    aliases: ReadonlyMap<string, string> = new Map(),
    knownFreshMs = 1_000,
    observer: ModelObserver = noObserver,
  ) {
    this.#upstream = upstream;
    this.#isBusy = isBusy;
    this.#aliases = aliases;
    this.#knownFreshMs = knownFreshMs;
    this.#observer = observer;
  }

  /** The model a requested name stands for: an alias's target, else the name itself. */
  dealias(name: string): string {
    return this.#aliases.get(name) ?? name;
  }

  /** Configured aliases and the models they stand for. */
  get aliases(): ReadonlyMap<string, string> {
    return this.#aliases;
  }

  get upstreamName(): string {
    return this.#upstream.name;
  }

  version(): Promise<string> {
    return this.#upstream.models.version();
  }

  /** Each upstream's state when the service fronts several; undefined with one. */
  upstreams(): UpstreamStatus[] | undefined {
    return this.#upstream.status?.();
  }

  /** Whether the upstream's version speaks our protocol, as far as we have seen. */
  compatibility(): { compatible: boolean; reason?: string; checked?: boolean } {
    return this.#upstream.models.compatibility?.() ?? { compatible: true };
  }

  async listLoaded(): Promise<LoadedModel[]> {
    const loaded = await this.#upstream.models.listLoaded();
    this.#known.clear();
    for (const m of loaded) this.#remember(m);
    this.#knownAt = performance.now();
    return loaded;
  }

  /** The loaded name a chat for `name` goes to, when it is known to be loaded (any case). */
  knownLoaded(name: string): string | undefined {
    if (performance.now() - this.#knownAt > this.#knownFreshMs) return undefined;
    if (this.#known.has(name)) return name;
    const r = resolveModelName(name, this.#known);
    return r.kind === "found" ? r.name : undefined;
  }

  /**
   * The loaded name for `name` when it is known to be loaded; with `refresh`, after asking the
   * upstream when it is not known. A failure to list is no reason to fail the caller: the
   * upstream's answer to the request itself will say.
   */
  async loadedName(name: string, refresh: boolean): Promise<string | undefined> {
    const known = this.knownLoaded(name);
    if (known !== undefined || !refresh) return known;
    await this.listLoaded().catch(() => undefined);
    return this.knownLoaded(name);
  }

  /** Called when upstream says a model we thought loaded is not (unloaded by TTL, or by hand). */
  forget(name: string): void {
    this.#known.delete(name);
  }

  #remember(m: LoadedModel): void {
    for (const n of namesOf(m)) {
      this.#known.add(n);
      this.#keyOf.set(n, m.modelKey);
    }
  }

  /** The model key of a name the gate has seen loaded (as `knownLoaded` returns it), for metrics labels. */
  modelKeyOf(loadedName: string): string | undefined {
    return this.#keyOf.get(loadedName);
  }

  async listDownloaded(): Promise<DownloadedModel[]> {
    if (this.#upstream.capabilities.listDownloaded) return this.#upstream.models.listDownloaded();
    // An engine that serves a fixed set: what it has is what is loaded.
    return this.listLoaded();
  }

  async listAvailable(): Promise<AvailableModel[]> {
    const [downloaded, loaded] = await Promise.all([this.listDownloaded(), this.listLoaded()]);
    return downloaded.map((d) => ({
      ...d,
      loadedIdentifiers: loaded
        .filter((l) => l.modelKey === d.modelKey && l.upstream === d.upstream)
        .map((l) => l.identifier),
    }));
  }

  /**
   * Unloads every instance matching `name` (identifier or model key), or all when it is undefined;
   * on one upstream when `upstream` names one.
   */
  async unload(requested: string | undefined, upstream?: string): Promise<string[]> {
    this.#requireLoadUnload("unload models");
    const name = requested === undefined ? undefined : this.dealias(requested);
    const loaded = (await this.listLoaded()).filter(onUpstream(this.#pinned(upstream)));
    let targets = loaded;
    if (name !== undefined) {
      const r = resolveModelName(name, loaded.flatMap(namesOf));
      if (r.kind === "ambiguous") throw ambiguous(name, r.candidates);
      targets = r.kind === "found" ? loaded.filter((m) => matches(m, r.name)) : [];
      if (targets.length === 0) {
        const names = loaded.map((m) => m.identifier);
        throw new ServiceError(
          404,
          "nothing_to_unload",
          `No loaded model matches "${name}" (loaded: ${names.length ? names.join(", ") : "none"})`,
          { extra: { suggestions: closeMatches(name, names) } },
        );
      }
    }
    await this.#unloadAll(targets);
    return targets.map((m) => m.identifier);
  }

  async ensureLoaded(requested: EnsureLoadedOptions): Promise<EnsureLoadedResult> {
    const opts = {
      ...requested,
      modelKey: this.dealias(requested.modelKey),
      upstream: this.#pinned(requested.upstream),
    };
    // A caller already gone starts nothing: a load nobody waits for would never be cancelled.
    if (opts.signal?.aborted) throw cancelledWhileLoading(opts.modelKey);
    // One gate per model whatever the case it was asked in: the load itself resolves the name.
    const key = `${opts.modelKey.toLowerCase()}\u0000${opts.identifier ?? ""}\u0000${opts.upstream ?? ""}`;
    let shared = this.#inflight.get(key);
    if (!shared) {
      const controller = new AbortController();
      const listeners = new Set<(progress: number) => void>();
      const promise = this.#loadOnce(opts, controller.signal, (p) => {
        for (const l of listeners) l(p);
      }).finally(() => {
        if (this.#inflight.get(key) === shared) this.#inflight.delete(key);
      });
      shared = { key, promise, controller, waiters: 0, exclusive: opts.exclusive === true, listeners };
      this.#inflight.set(key, shared);
    }
    const result = await this.#wait(shared, opts);
    // A caller that asked for exclusivity but joined a non-exclusive load still gets it.
    if (opts.exclusive && !shared.exclusive) {
      const loaded = (await this.listLoaded()).filter(onUpstream(result.model.upstream));
      const more = await this.#unloadOthers(loaded, result.model.identifier);
      return { ...result, unloaded: [...new Set([...result.unloaded, ...more])] };
    }
    return result;
  }

  #wait(shared: SharedLoad, opts: EnsureLoadedOptions): Promise<EnsureLoadedResult> {
    const { signal, onProgress } = opts;
    if (signal?.aborted) return Promise.reject(cancelledWhileLoading(opts.modelKey));
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
        if (shared.waiters === 0) {
          // Cancelled for good: a caller arriving now must start afresh, not join a dying load.
          if (this.#inflight.get(shared.key) === shared) this.#inflight.delete(shared.key);
          shared.controller.abort(cancelledWhileLoading(opts.modelKey));
        }
        reject(cancelledWhileLoading(opts.modelKey));
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
    const loaded = (await this.listLoaded()).filter(onUpstream(opts.upstream));
    const existing = findLoaded(loaded, opts);
    if (existing === "ambiguous") {
      throw ambiguous(
        opts.modelKey,
        loaded.flatMap(namesOf).filter((n) => sameFold(n, opts.modelKey)),
      );
    }
    // With several upstreams, `exclusive` acts on one: the model's, or the one the load goes to.
    const place = this.#upstream.models.place?.bind(this.#upstream.models);
    let unloaded: string[] = [];
    if (opts.exclusive && (existing || !place)) {
      unloaded = await this.#unloadOthers(
        loaded.filter(onUpstream(existing?.upstream)),
        existing?.identifier,
      );
    }
    if (existing) return { model: existing, unloaded, alreadyLoaded: true };

    // A pinned upstream that cannot load (an engine managing its models) says so before any listing.
    if (place && opts.upstream !== undefined) await place(opts.modelKey, opts.upstream);
    const downloaded = (await this.listDownloaded()).filter(onUpstream(opts.upstream));
    const r = resolveModelName(
      opts.modelKey,
      downloaded.map((d) => d.modelKey),
    );
    if (r.kind === "ambiguous") throw ambiguous(opts.modelKey, r.candidates);
    const entry = r.kind === "found" ? downloaded.find((d) => d.modelKey === r.name) : undefined;
    if (!entry) throw notDownloaded(opts.modelKey, downloaded, opts.upstream ?? this.#upstream.name);
    if (!this.#upstream.capabilities.loadUnload) {
      // Listed but not loaded: such an engine has no models beyond the loaded ones; be safe anyway.
      throw cannotManage(this.#upstream.name, "load models");
    }
    const upstream =
      place && opts.upstream === undefined ? await place(entry.modelKey, undefined) : opts.upstream;
    if (opts.exclusive && place) {
      unloaded = await this.#unloadOthers(loaded.filter(onUpstream(upstream)), undefined);
    }
    signal.throwIfAborted();
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let model: LoadedModel;
    try {
      model = await this.#upstream.models.load({
        upstream,
        modelKey: entry.modelKey,
        type: entry.type,
        identifier: opts.identifier,
        contextLength: opts.contextLength,
        ttlSeconds: opts.ttlSeconds,
        signal,
        onProgress,
      });
    } catch (error) {
      this.#observer.loadEnded(entry.modelKey, loadOutcomeOf(error), seconds());
      throw error;
    }
    this.#observer.loadEnded(entry.modelKey, "ok", seconds());
    this.#remember(model);
    return { model, unloaded, alreadyLoaded: false };
  }

  async #unloadOthers(loaded: LoadedModel[], keep: string | undefined): Promise<string[]> {
    const others = loaded.filter((m) => m.identifier !== keep);
    if (others.length === 0) return [];
    this.#requireLoadUnload("unload other models (exclusive)");
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
    for (const m of models) for (const n of namesOf(m)) this.#known.delete(n);
    await Promise.all(models.map((m) => this.#upstream.models.unload(m)));
  }

  /** A pinned upstream means something only when there are several to choose from. */
  #pinned(upstream: string | undefined): string | undefined {
    return this.#upstream.models.place ? upstream : undefined;
  }

  #requireLoadUnload(what: string): void {
    if (!this.#upstream.capabilities.loadUnload) throw cannotManage(this.#upstream.name, what);
  }
}

const sameFold = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The loaded instance a load request names: by identifier when it gives one, else by key or identifier. */
function findLoaded(loaded: LoadedModel[], opts: EnsureLoadedOptions): LoadedModel | undefined | "ambiguous" {
  if (opts.identifier) {
    return loaded.find((m) => m.identifier === opts.identifier && sameFold(m.modelKey, opts.modelKey));
  }
  const r = resolveModelName(opts.modelKey, loaded.flatMap(namesOf));
  if (r.kind === "ambiguous") return "ambiguous";
  return r.kind === "found" ? loaded.find((m) => matches(m, r.name)) : undefined;
}

function ambiguous(name: string, candidates: string[]): ServiceError {
  return new ServiceError(
    404,
    "model_not_found",
    `Model "${name}" matches ${candidates.map((c) => `"${c}"`).join(" and ")}, which differ only in case: name one exactly`,
    { extra: { suggestions: candidates } },
  );
}

const cancelledWhileLoading = (name: string) =>
  new ServiceError(499, "cancelled", `Cancelled while waiting for "${name}" to load`);

function cannotManage(name: string, what: string): ServiceError {
  return new ServiceError(
    409,
    "not_supported",
    `${name} manages its models itself: this service cannot ${what} there`,
  );
}

export function notDownloaded(
  modelKey: string,
  downloaded: DownloadedModel[],
  upstream: string,
): ServiceError {
  const suggestions = closeMatches(
    modelKey,
    downloaded.map((d) => d.modelKey),
  );
  const hint = suggestions.length ? `; did you mean ${suggestions.map((s) => `"${s}"`).join(", ")}?` : "";
  return new ServiceError(
    404,
    "model_not_found",
    `Model "${modelKey}" is not downloaded in ${upstream}${hint} (GET /models/available lists them)`,
    { extra: { suggestions } },
  );
}
