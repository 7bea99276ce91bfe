/**
 * Test doubles of our own upstream interface (ModelManager, capabilities) for the core's unit
 * tests: loads are deferred promises the test settles, every call is recorded. Not a test file
 * itself (vitest collects `*.test.ts` only).
 */
import type {
  DownloadedModel,
  LoadedModel,
  LoadOptions,
  ModelManager,
  ModelType,
  Upstream,
  UpstreamCapabilities,
} from "../../upstreams/types.ts";

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function downloadedModel(modelKey: string, type: ModelType = "llm"): DownloadedModel {
  return {
    modelKey,
    type,
    displayName: modelKey,
    vision: false,
    trainedForToolUse: false,
    maxContextLength: 8192,
    sizeBytes: 1_000,
  };
}

export function loadedModel(modelKey: string, identifier = modelKey, type: ModelType = "llm"): LoadedModel {
  return { ...downloadedModel(modelKey, type), identifier, contextLength: 4096 };
}

/** One call of `load()`, settled by the test. */
export class LoadCall {
  readonly opts: LoadOptions;
  readonly #result = deferred<LoadedModel>();
  readonly #onLoaded: (m: LoadedModel) => void;

  constructor(opts: LoadOptions, onLoaded: (m: LoadedModel) => void) {
    this.opts = opts;
    this.#onLoaded = onLoaded;
  }

  get promise(): Promise<LoadedModel> {
    return this.#result.promise;
  }

  get signal(): AbortSignal {
    if (!this.opts.signal) throw new Error("load() got no AbortSignal");
    return this.opts.signal;
  }

  progress(p: number): void {
    this.opts.onProgress?.(p);
  }

  /** The upstream finished loading: the model is listed as loaded from now on. */
  succeed(model: LoadedModel = loadedModel(this.opts.modelKey, this.opts.identifier)): LoadedModel {
    this.#onLoaded(model);
    this.#result.resolve(model);
    return model;
  }

  fail(error: unknown): void {
    this.#result.reject(error);
  }
}

/** A ModelManager whose state the test sets and whose loads the test settles. */
export class FakeModelManager implements ModelManager {
  downloaded: DownloadedModel[];
  loaded: LoadedModel[];
  readonly loads: LoadCall[] = [];
  readonly unloads: string[] = [];
  listLoadedCalls = 0;
  listDownloadedCalls = 0;
  readonly #capabilities: UpstreamCapabilities;
  #waiting: Array<{ index: number; d: Deferred<LoadCall> }> = [];

  constructor(capabilities: UpstreamCapabilities, downloaded: DownloadedModel[], loaded: LoadedModel[]) {
    this.#capabilities = capabilities;
    this.downloaded = downloaded;
    this.loaded = loaded;
  }

  async version(): Promise<string> {
    return "fake-1";
  }

  async listLoaded(): Promise<LoadedModel[]> {
    this.listLoadedCalls++;
    return [...this.loaded];
  }

  async listDownloaded(): Promise<DownloadedModel[]> {
    this.listDownloadedCalls++;
    if (!this.#capabilities.listDownloaded) throw new Error("listDownloaded called without the capability");
    return [...this.downloaded];
  }

  load(opts: LoadOptions): Promise<LoadedModel> {
    if (!this.#capabilities.loadUnload) throw new Error("load called without the capability");
    const call = new LoadCall(opts, (m) => this.loaded.push(m));
    this.loads.push(call);
    const index = this.loads.length - 1;
    for (const w of this.#waiting.filter((w) => w.index === index)) w.d.resolve(call);
    this.#waiting = this.#waiting.filter((w) => w.index !== index);
    return call.promise;
  }

  async unload(model: { identifier: string; type: ModelType }): Promise<void> {
    if (!this.#capabilities.loadUnload) throw new Error("unload called without the capability");
    this.unloads.push(model.identifier);
    this.loaded = this.loaded.filter((m) => m.identifier !== model.identifier);
  }

  /** The n-th call of load() (0-based), once it has been made. */
  loadCall(index: number): Promise<LoadCall> {
    const made = this.loads[index];
    if (made) return Promise.resolve(made);
    const d = deferred<LoadCall>();
    this.#waiting.push({ index, d });
    return d.promise;
  }
}

export const LM_STUDIO_LIKE: UpstreamCapabilities = {
  listDownloaded: true,
  loadUnload: true,
  loadProgress: true,
};

/** A plain OpenAI-compatible engine: what it lists is loaded, and it loads nothing. */
export const FIXED_ENGINE: UpstreamCapabilities = {
  listDownloaded: false,
  loadUnload: false,
  loadProgress: false,
};

export interface FakeUpstream extends Pick<Upstream, "name" | "capabilities" | "models"> {
  models: FakeModelManager;
}

export function fakeUpstream(
  opts: { capabilities?: UpstreamCapabilities; downloaded?: DownloadedModel[]; loaded?: LoadedModel[] } = {},
): FakeUpstream {
  const capabilities = opts.capabilities ?? LM_STUDIO_LIKE;
  return {
    name: "Fake Studio",
    capabilities,
    models: new FakeModelManager(capabilities, opts.downloaded ?? [], opts.loaded ?? []),
  };
}
