import { ServiceError } from "../../errors.ts";
import type { RecogniseChatError } from "../openai-compatible/map-openai-error.ts";
import { CONNECT_CODES, connectionRefused, errnoCode, unrecognised } from "../upstream-errors.ts";

/**
 * LM Studio's own failures, from both of its faces (the SDK websocket and the OpenAI-compatible
 * HTTP API), recognised by their text and reworded. Nothing LM Studio wrote reaches a client.
 */

export const LMSTUDIO = "LM Studio";

/** LM Studio's chat errors that mean something to the caller. */
export const recogniseLmStudioChatError: RecogniseChatError = (message, error, model) => {
  const lower = message.toLowerCase();
  if (lower.includes("no models loaded")) {
    return new ServiceError(503, "no_models_loaded", "Chat service unavailable: No model loaded", {
      cause: error,
    });
  }
  if (lower.includes("invalid model identifier") || /model ".*" not found/.test(lower)) {
    return new ServiceError(
      503,
      "model_not_loaded",
      `Chat service unavailable: Model "${model}" is not loaded. Load it with POST /models/load`,
      { cause: error },
    );
  }
  if (lower.includes("does not support images")) {
    return new ServiceError(
      422,
      "images_not_supported",
      `Model "${model}" does not support images: use a vision model (e.g. /chat/vision)`,
      { cause: error },
    );
  }
  if (lower.includes("base64 encoded image")) {
    return new ServiceError(
      422,
      "invalid_image",
      `${LMSTUDIO} rejected an image: send JPEG or PNG bytes that match mime_type`,
      { cause: error },
    );
  }
  return undefined;
};

/**
 * The SDK drops LM Studio's error codes (`displayData`): its errors keep only the server's `title`
 * and a formatted message, so that text is all there is to recognise them by.
 */
function sdkErrorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const raw = (error as { title?: unknown } | null)?.title;
  return `${typeof raw === "string" ? raw : ""} ${message}`;
}

/** The SDK's errors for an instance that no longer exists (unloaded, or its TTL ran out). */
export function isInstanceGone(error: unknown): boolean {
  return /already been unloaded|cannot find a model with identifier|no model found that fits the query/i.test(
    sdkErrorText(error),
  );
}

/** Errors of the SDK websocket (model management). `url` is the websocket's address. */
export function mapSdkError(error: unknown, action: string, url: string): ServiceError {
  if (error instanceof ServiceError) return error;
  const code = errnoCode(error);
  if (code === "ECONNREFUSED") return connectionRefused(LMSTUDIO, url, error);
  const text = sdkErrorText(error);
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return new ServiceError(
      503,
      "upstream_unreachable",
      `Could not connect to ${LMSTUDIO} at ${url}: ${code}`,
      {
        cause: error,
      },
    );
  }
  if (/websocket connection closed/i.test(text)) {
    return new ServiceError(
      503,
      "upstream_unreachable",
      `Lost the connection to ${LMSTUDIO} while trying to ${action}; retry`,
      { cause: error },
    );
  }
  if (/failed to authenticate/i.test(text)) {
    return new ServiceError(
      502,
      "upstream_auth_failed",
      `${LMSTUDIO} refused our credentials: set LMSTUDIO_API_TOKEN (models, SDK) and OPENAI_API_KEY (chat, HTTP) to your LM Studio API token: the same token in both`,
      { cause: error },
    );
  }
  if (/already in use|already exists/i.test(text)) {
    return new ServiceError(
      409,
      "identifier_taken",
      `Could not ${action}: that identifier is already taken by another loaded model; pick another identifier or unload it`,
      { cause: error },
    );
  }
  if (/out of memory|not enough memory|insufficient (memory|vram)|failed to allocate/i.test(text)) {
    return new ServiceError(
      507,
      "insufficient_memory",
      `Could not ${action}: ${LMSTUDIO} ran out of memory. Unload other models, or load with a smaller context_length`,
      { cause: error },
    );
  }
  if (/cannot find a model|not found|no loaded model|no model found/i.test(text)) {
    return new ServiceError(404, "model_not_found", `Could not ${action}: ${LMSTUDIO} has no such model`, {
      cause: error,
    });
  }
  return unrecognised(LMSTUDIO, `to ${action}`, error);
}
