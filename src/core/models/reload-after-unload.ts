import { isServiceError } from "../../errors.ts";

const NOT_LOADED = new Set(["model_not_loaded", "no_models_loaded"]);

/**
 * Whether a request the upstream refused because its model is not loaded should load it and try
 * once more: the model was loaded when we last looked, and went since (TTL expiry, LM Studio's UI).
 */
export function shouldReloadAfter(error: unknown, attempt: number, autoLoad: boolean): boolean {
  return attempt === 0 && autoLoad && isServiceError(error) && NOT_LOADED.has(error.code);
}
