/** Core: embeddings, with the same on-demand loading through the model gate as chats. */
import { isServiceError, ServiceError } from "../../errors.ts";
import type { EmbeddingEngine, EmbeddingResult } from "../../upstreams/types.ts";
import type { ModelGate } from "../models/model-gate.ts";

export interface EmbeddingServiceOptions {
  autoLoad: boolean;
  modelTtlSeconds: number | undefined;
}

export interface EmbedRun {
  model: string;
  input: string[];
  signal: AbortSignal;
  /** TTL of a load this request causes (else MODEL_TTL_SECONDS); 0 or less: none. */
  ttlSeconds?: number;
}

export interface EmbedOutput extends EmbeddingResult {
  /** Time spent loading the model for this request, when it did. */
  loadMs: number | undefined;
}

const LOAD_ON_DEMAND = new Set(["model_not_loaded", "no_models_loaded"]);

/**
 * Embeds through the upstream: a model not loaded is loaded first (once, through the gate, as
 * for chats: LM Studio's own JIT would stack copies), when AUTO_LOAD is on.
 */
export class EmbeddingService {
  readonly #engine: EmbeddingEngine | undefined;
  readonly #models: ModelGate;
  readonly #opts: EmbeddingServiceOptions;

  constructor(engine: EmbeddingEngine | undefined, models: ModelGate, opts: EmbeddingServiceOptions) {
    this.#engine = engine;
    this.#models = models;
    this.#opts = opts;
  }

  async embed(run: EmbedRun): Promise<EmbedOutput> {
    const engine = this.#engine;
    if (!engine) {
      throw new ServiceError(409, "not_supported", `${this.#models.upstreamName} serves no embeddings`);
    }
    const name = this.#models.dealias(run.model);
    let loadMs: number | undefined;
    const load = async () => {
      const started = performance.now();
      const r = await this.#models.ensureLoaded({
        modelKey: name,
        signal: run.signal,
        ttlSeconds:
          run.ttlSeconds === undefined
            ? this.#opts.modelTtlSeconds
            : run.ttlSeconds > 0
              ? run.ttlSeconds
              : undefined,
      });
      if (!r.alreadyLoaded) loadMs = performance.now() - started;
      return r.model.identifier;
    };
    let target = this.#models.knownLoaded(name);
    if (target === undefined && this.#opts.autoLoad) target = await load();
    try {
      const r = await engine.embed({ model: target ?? name, input: run.input, signal: run.signal });
      return { ...r, loadMs };
    } catch (error) {
      if (!(this.#opts.autoLoad && isServiceError(error) && LOAD_ON_DEMAND.has(error.code))) throw error;
      // It was loaded when we last looked (TTL expiry, or unloaded in LM Studio's UI).
      this.#models.forget(target ?? name);
      const r = await engine.embed({ model: await load(), input: run.input, signal: run.signal });
      return { ...r, loadMs };
    }
  }
}
