import { APIConnectionError, APIError, APIUserAbortError } from "openai";
import { ServiceError } from "../errors.ts";

/**
 * LM Studio's failures, from both of its faces (the SDK websocket and the OpenAI-compatible HTTP
 * API), turned into ServiceErrors once. Messages say what to do; upstream internals stay out.
 */

const UPSTREAM = "LM Studio";
const MAX_UPSTREAM_MESSAGE = 300;

export const connectionRefused = (cause?: unknown) =>
  new ServiceError(503, "upstream_unreachable", `Could not connect to ${UPSTREAM}: Connection refused`, {
    cause,
  });

export const upstreamTimeout = (what: string, ms: number, cause?: unknown) =>
  new ServiceError(
    504,
    "upstream_timeout",
    `${UPSTREAM} did not answer in time: ${what} took over ${ms} ms`,
    {
      cause,
    },
  );

function shorten(text: string): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > MAX_UPSTREAM_MESSAGE ? `${oneLine.slice(0, MAX_UPSTREAM_MESSAGE)}…` : oneLine;
}

/** LM Studio's error bodies are either OpenAI-shaped `{error:{message}}` or `{error:"text"}`. */
export function upstreamMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body;
  if (body && typeof body === "object") {
    const o = body as Record<string, unknown>;
    if (typeof o.message === "string") return o.message;
    if ("error" in o) return upstreamMessage(o.error);
  }
  return undefined;
}

function errnoCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (typeof code === "string") return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "EPIPE",
]);

/** Errors of the OpenAI-compatible chat endpoint. `model` is the model the request named. */
export function mapChatError(error: unknown, model: string): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof APIUserAbortError) {
    return new ServiceError(499, "cancelled", "The request was cancelled", { cause: error });
  }
  if (error instanceof APIConnectionError) {
    const code = errnoCode(error.cause);
    if (code === "ECONNREFUSED") return connectionRefused(error);
    if (code === "UND_ERR_CONNECT_TIMEOUT") {
      return new ServiceError(
        504,
        "upstream_timeout",
        `${UPSTREAM} did not answer in time: connecting took over CONNECT_TIMEOUT_MS`,
        { cause: error },
      );
    }
    return new ServiceError(
      502,
      "upstream_error",
      `Lost the connection to ${UPSTREAM} during the request (${code ?? "connection error"}); retry`,
      { cause: error },
    );
  }
  if (error instanceof APIError) {
    const message = upstreamMessage(error.error) ?? error.message;
    const lower = message.toLowerCase();
    if (lower.includes("no models loaded")) {
      return new ServiceError(503, "no_models_loaded", "Chat service unavailable: No model loaded", {
        cause: error,
      });
    }
    const code = (error as { code?: unknown }).code;
    if (
      code === "model_not_found" ||
      lower.includes("invalid model identifier") ||
      /model ".*" not found/.test(lower)
    ) {
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
      return new ServiceError(422, "invalid_image", `${UPSTREAM} rejected an image: ${shorten(message)}`, {
        cause: error,
      });
    }
    if (error.status === 401 || error.status === 403) {
      return new ServiceError(
        502,
        "upstream_auth_failed",
        `${UPSTREAM} refused our credentials: set OPENAI_API_KEY to a valid LM Studio API token`,
        { cause: error },
      );
    }
    if (error.status !== undefined && error.status >= 400 && error.status < 500) {
      return new ServiceError(
        400,
        "upstream_error",
        `${UPSTREAM} rejected the request: ${shorten(message)}`,
        {
          cause: error,
        },
      );
    }
    return new ServiceError(502, "upstream_error", `${UPSTREAM} failed: ${shorten(message)}`, {
      cause: error,
    });
  }
  const code = errnoCode(error);
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return code === "ECONNREFUSED"
      ? connectionRefused(error)
      : new ServiceError(502, "upstream_error", `Lost the connection to ${UPSTREAM} (${code}); retry`, {
          cause: error,
        });
  }
  return new ServiceError(502, "upstream_error", `${UPSTREAM} failed unexpectedly; retry`, { cause: error });
}

/**
 * The SDK drops LM Studio's error codes (`displayData`): its errors keep only the server's `title`
 * and a formatted message, so that text is all there is to recognise them by.
 */
function sdkErrorText(error: unknown): { title: string | undefined; message: string; text: string } {
  const message = error instanceof Error ? error.message : String(error);
  const raw = (error as { title?: unknown } | null)?.title;
  const title = typeof raw === "string" ? raw : undefined;
  return { title, message, text: `${title ?? ""} ${message}` };
}

/** The SDK's errors for an instance that no longer exists (unloaded, or its TTL ran out). */
export function isInstanceGone(error: unknown): boolean {
  return /already been unloaded|cannot find a model with identifier/i.test(sdkErrorText(error).text);
}

/** Errors of the SDK websocket (model management). */
export function mapSdkError(error: unknown, action: string): ServiceError {
  if (error instanceof ServiceError) return error;
  const code = errnoCode(error);
  if (code === "ECONNREFUSED") return connectionRefused(error);
  const { title, message, text } = sdkErrorText(error);
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return new ServiceError(503, "upstream_unreachable", `Could not connect to ${UPSTREAM}: ${code}`, {
      cause: error,
    });
  }
  if (/websocket connection closed/i.test(text)) {
    return new ServiceError(
      503,
      "upstream_unreachable",
      `Lost the connection to ${UPSTREAM} while trying to ${action}; retry`,
      {
        cause: error,
      },
    );
  }
  if (/failed to authenticate/i.test(text)) {
    return new ServiceError(
      502,
      "upstream_auth_failed",
      `${UPSTREAM} refused our credentials: set LMSTUDIO_API_TOKEN to a valid LM Studio API token`,
      { cause: error },
    );
  }
  if (/already in use/i.test(text)) {
    return new ServiceError(409, "invalid_request", shorten(title ?? message), {
      cause: error,
    });
  }
  if (/cannot find a model|not found|no loaded model/i.test(text)) {
    return new ServiceError(404, "model_not_found", shorten(title ?? message), {
      cause: error,
    });
  }
  const firstLine = title || message.split("\n").find((l) => /\w/.test(l)) || "";
  return new ServiceError(
    502,
    "upstream_error",
    `${UPSTREAM} could not ${action}: ${shorten(firstLine.replace(/[│╭╮╰╯─]/g, ""))}`,
    {
      cause: error,
    },
  );
}
