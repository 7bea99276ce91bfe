import { createRequire } from "node:module";
import {
  type EmbeddingModelInstanceInfo,
  type LLMInstanceInfo,
  LMStudioClient,
  type ModelInfo,
} from "@lmstudio/sdk";
import type { FastifyBaseLogger } from "fastify";
import { ServiceError } from "../../errors.ts";
import type {
  DownloadedModel,
  DownloadOptions,
  LoadedModel,
  LoadOptions,
  ModelDownloader,
  ModelManager,
  ModelType,
} from "../types.ts";
import { upstreamTimeout } from "../upstream-errors.ts";
import { guardDownloadRejections } from "./guard-download-rejections.ts";
import { isInstanceGone, LMSTUDIO, mapSdkError } from "./map-lmstudio-error.ts";

export interface ModelManagerOptions {
  baseUrl: string;
  /**
   * Lists loaded models over LM Studio's REST API (`/api/v0/models`, 0.3.6+): the fallback when
   * the SDK and LM Studio disagree on the protocol, so that chats with loaded models keep working.
   */
  listLoadedOverHttp?: () => Promise<LoadedModel[]>;
  apiToken?: string;
  sdkTimeoutMs: number;
  loadTimeoutMs: number;
  logger: FastifyBaseLogger;
}

/** LM Studio 0.4 says on which LM Link device a model lives; SDK 1.5's typings (and schemas) lack it. */
type WithDevice = { deviceIdentifier?: string | null };

function toDownloaded(info: ModelInfo & WithDevice): DownloadedModel {
  return {
    modelKey: info.modelKey,
    type: info.type,
    displayName: info.displayName,
    vision: info.type === "llm" ? info.vision : false,
    trainedForToolUse: info.type === "llm" ? info.trainedForToolUse : false,
    maxContextLength: info.maxContextLength,
    sizeBytes: info.sizeBytes,
    format: info.format,
    path: info.path,
    ...(info.architecture !== undefined && { architecture: info.architecture }),
    ...(info.paramsString !== undefined && { paramsString: info.paramsString }),
    ...(info.quantization?.name !== undefined && { quantization: info.quantization.name }),
    ...(typeof info.deviceIdentifier === "string" && { device: info.deviceIdentifier }),
  };
}

/** LM Studio 0.4's instance info also says when the instance expires; older typings lack the fields. */
type WithTtl = { ttlMs?: number | null; lastUsedTime?: number | null };

function toLoaded(info: (LLMInstanceInfo | EmbeddingModelInstanceInfo) & WithTtl): LoadedModel {
  return {
    ...toDownloaded(info),
    identifier: info.identifier,
    contextLength: info.contextLength,
    ttlMs: info.ttlMs ?? null,
    lastUsedTime: info.lastUsedTime ?? null,
  };
}

/**
 * SDK 2.0, loaded only when an API token asks for it (see newClient below): both SDKs together add
 * 58 MB of RSS at start, one 40 MB.
 */
const sdkV2 = (): typeof import("@lmstudio/sdk-v2") => createRequire(import.meta.url)("@lmstudio/sdk-v2");

/**
 * Model management over LM Studio's SDK websocket. The SDK has no timeouts and never gives up on a
 * silent socket, so every call is raced against a deadline, and a client whose socket timed out or
 * closed is replaced: the next call connects afresh (LM Studio restarted, or started late).
 */
export function createModelManager(
  opts: ModelManagerOptions,
): ModelManager & ModelDownloader & { close(): Promise<void> } {
  /**
   * Version skew: when LM Studio's answers do not fit the SDK's schemas, the SDK logs a
   * "communication warning" and never settles the call. We take the warning as the answer, at once,
   * instead of waiting out SDK_TIMEOUT_MS on every request.
   */
  let skew: string | undefined;
  /** A listing has come back (or the skew shown): compatibility is known, not assumed. */
  let checked = false;
  let lastVersion: string | undefined;
  const skewWaiters = new Set<(e: ServiceError) => void>();
  const skewError = () =>
    new ServiceError(
      502,
      "upstream_incompatible",
      `LM Studio ${lastVersion ?? "(version unknown)"} does not speak the protocol this service's SDK expects ` +
        `(${skew}): update LM Studio${opts.apiToken ? " (API tokens need LM Studio 0.4 or newer)" : ""}`,
    );
  const onSdkWarning = (text: string) => {
    if (!/communication warning/i.test(text) || skew !== undefined) return;
    skew = /endpointName = (\w+)/.exec(text)?.[0] ?? "invalid answers";
    opts.logger.warn(
      { lmstudioVersion: lastVersion, sdk: text.slice(0, 300) },
      "LM Studio and the SDK disagree on the protocol: model management is unavailable, chats with loaded models go on over HTTP; update LM Studio",
    );
    for (const fail of skewWaiters) fail(skewError());
    skewWaiters.clear();
  };
  const sdkLogger = {
    // The SDK logs connection refusals as warnings on every call; we report them as errors ourselves.
    info: (...m: unknown[]) => opts.logger.debug({ sdk: m.map(String).join(" ") }, "lmstudio sdk"),
    debug: (...m: unknown[]) => opts.logger.trace({ sdk: m.map(String).join(" ") }, "lmstudio sdk"),
    warn: (...m: unknown[]) => {
      const text = m.map(String).join(" ");
      onSdkWarning(text);
      opts.logger.debug({ sdk: text }, "lmstudio sdk");
    },
    error: (...m: unknown[]) => opts.logger.debug({ sdk: m.map(String).join(" ") }, "lmstudio sdk"),
  };
  // SDK 1.5 speaks to every LM Studio we support (0.3 and 0.4); 2.0 hangs on 0.3, whose info
  // objects lack fields its schemas require. Only 2.0 can send an API token, which only LM Studio
  // 0.4 asks for: so 2.0 exactly when a token is configured. (docs/ARCHITECTURE.md, "LM Studio versions")
  const newClient = (): LMStudioClient =>
    opts.apiToken
      ? (new (sdkV2().LMStudioClient)({
          baseUrl: opts.baseUrl,
          logger: sdkLogger,
          apiToken: opts.apiToken,
        }) as unknown as LMStudioClient)
      : new LMStudioClient({ baseUrl: opts.baseUrl, logger: sdkLogger });
  let client = newClient();

  const replaceClient = (stale: LMStudioClient) => {
    if (client !== stale) return;
    client = newClient();
    // Disposing a client whose socket never answers may itself never settle: don't wait for it.
    stale[Symbol.asyncDispose]().catch(() => {});
  };

  /** Runs one SDK operation under a deadline; maps every failure to a ServiceError. */
  async function call<T>(...args: Parameters<typeof callEvenIfSkewed<T>>): Promise<T> {
    if (skew !== undefined) {
      // The version call still works under a skew, and the message names the version.
      if (lastVersion === undefined) await readVersion().catch(() => undefined);
      throw skewError();
    }
    return callEvenIfSkewed(...args);
  }

  async function readVersion(): Promise<string> {
    const v = await callEvenIfSkewed("report its version", opts.sdkTimeoutMs, (c) =>
      c.system.getLMStudioVersion(),
    );
    lastVersion = v.version;
    return v.version;
  }

  async function callEvenIfSkewed<T>(
    action: string,
    timeoutMs: number,
    run: (c: LMStudioClient, signal: AbortSignal) => Promise<T>,
    callerSignal?: AbortSignal,
    isLoad = false,
  ): Promise<T> {
    const current = client;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const onCallerAbort = () => controller.abort(callerSignal?.reason);
    callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = upstreamTimeout(LMSTUDIO, action, timeoutMs);
        // Reject first: aborting also settles `cancelled`, and the race must report the timeout.
        reject(err);
        controller.abort(err);
      }, timeoutMs);
    });
    const cancelled = new Promise<never>((_, reject) => {
      controller.signal.addEventListener(
        "abort",
        () => reject(new ServiceError(499, "cancelled", `Cancelled while trying to ${action}`)),
        { once: true },
      );
    });
    let onSkew: ((e: ServiceError) => void) | undefined;
    const skewed = new Promise<never>((_, reject) => {
      onSkew = reject;
      skewWaiters.add(reject);
    });
    const work = run(current, controller.signal);
    try {
      return await Promise.race([work, deadline, cancelled, skewed]);
    } catch (error) {
      const mapped = mapSdkError(error, action, opts.baseUrl);
      // A silent socket stays silent: start over. A slow load says nothing about the socket.
      // A refused token leaves the client closed: the next call must authenticate afresh, and fail as such.
      const stale =
        mapped.code === "upstream_unreachable" ||
        mapped.code === "upstream_auth_failed" ||
        (mapped.code === "upstream_timeout" && !isLoad);
      if (stale) replaceClient(current);
      throw mapped;
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onCallerAbort);
      if (onSkew) skewWaiters.delete(onSkew);
      skewed.catch(() => {});
      work.catch(() => {});
    }
  }

  const listLoadedOverSdk = () =>
    call("list loaded models", opts.sdkTimeoutMs, async (c) => {
      const [llms, embeddings] = await Promise.all([c.llm.listLoaded(), c.embedding.listLoaded()]);
      checked = true;
      // A model unloaded between the two calls (TTL, LM Studio's UI) is simply no longer listed.
      const infos = await Promise.all(
        [...llms, ...embeddings].map((m) =>
          (m.getModelInfo() as Promise<LLMInstanceInfo | EmbeddingModelInstanceInfo>).catch(
            (error: unknown) => {
              if (isInstanceGone(error)) return undefined;
              throw error;
            },
          ),
        ),
      );
      return infos.filter((i) => i !== undefined).map(toLoaded);
    });

  const namespace = (c: LMStudioClient, type: ModelType) => (type === "llm" ? c.llm : c.embedding);

  return {
    version: readVersion,

    compatibility() {
      return skew === undefined
        ? { compatible: true, checked }
        : { compatible: false, reason: skewError().message, checked: true };
    },

    async listDownloaded() {
      const models = await call("list downloaded models", opts.sdkTimeoutMs, (c) =>
        c.system.listDownloadedModels(),
      );
      return models.map(toDownloaded);
    },

    async listLoaded() {
      if (skew === undefined) {
        try {
          return await listLoadedOverSdk();
        } catch (error) {
          // The call that revealed the skew is answered over HTTP too, not only the ones after it.
          if (skew === undefined || !opts.listLoadedOverHttp) throw error;
        }
      }
      if (opts.listLoadedOverHttp) return opts.listLoadedOverHttp();
      throw skewError();
    },

    async load(o: LoadOptions & { type?: ModelType }) {
      const type = o.type ?? "llm";
      const info = await call(
        `load model "${o.modelKey}"`,
        opts.loadTimeoutMs,
        async (c, signal) => {
          const model = await namespace(c, type).load(o.modelKey, {
            ...(o.identifier ? { identifier: o.identifier } : {}),
            ...(o.contextLength ? { config: { contextLength: o.contextLength } } : {}),
            ...(o.ttlSeconds ? { ttl: o.ttlSeconds } : {}),
            signal,
            verbose: false,
            onProgress: o.onProgress,
          });
          return model.getModelInfo() as Promise<LLMInstanceInfo | EmbeddingModelInstanceInfo>;
        },
        o.signal,
        true,
      );
      return toLoaded(info);
    },

    async unload(model: { identifier: string; type: ModelType }) {
      await call(`unload model "${model.identifier}"`, opts.sdkTimeoutMs, (c) =>
        namespace(c, model.type)
          .unload(model.identifier)
          .catch((error: unknown) => {
            // Gone already (unloaded concurrently, or its TTL ran out): what was asked is done.
            if (!isInstanceGone(error)) throw error;
          }),
      );
    },

    /**
     * Through LM Studio's own downloader (the SDK's `repository` namespace): the catalogue entry
     * named exactly `name`, its recommended download option. A download, once started, finishes in
     * LM Studio whoever waits for it (Ollama resumes pulls; LM Studio keeps what it downloaded).
     */
    async download(o: DownloadOptions) {
      const entries = await call("search LM Studio's model catalogue", opts.sdkTimeoutMs, (c) =>
        c.repository.searchModels({ searchTerm: o.name, limit: 25 }),
      );
      const wanted = o.name.toLowerCase();
      const entry =
        entries.find((e) => e.isExactMatch()) ?? entries.find((e) => e.name.toLowerCase() === wanted);
      if (!entry) {
        const near = entries.slice(0, 5).map((e) => `"${e.name}"`);
        throw new ServiceError(
          404,
          "model_not_found",
          `"${o.name}" is not in LM Studio's model catalogue${near.length ? `; it has ${near.join(", ")}` : ""}`,
        );
      }
      const options = await call(`list the downloads of "${entry.name}"`, opts.sdkTimeoutMs, () =>
        entry.getDownloadOptions(),
      );
      const option = options.find((d) => d.isRecommended()) ?? options[0];
      if (!option) {
        throw new ServiceError(404, "model_not_found", `LM Studio offers no download of "${entry.name}"`);
      }
      try {
        const modelKey = await guardDownloadRejections(() =>
          option.download({
            onProgress: (u) => o.onProgress({ downloadedBytes: u.downloadedBytes, totalBytes: u.totalBytes }),
            onStartFinalizing: o.onFinalizing,
          }),
        );
        return { modelKey };
      } catch (error) {
        throw mapSdkError(error, `download "${entry.name}"`, opts.baseUrl);
      }
    },

    async close() {
      await Promise.race([client[Symbol.asyncDispose](), new Promise((r) => setTimeout(r, 500))]).catch(
        () => {},
      );
    },
  };
}
