import { APIConnectionError, APIError, APIUserAbortError } from "openai";
import { ServiceError } from "../../errors.ts";
import {
  CONNECT_CODES,
  connectionRefused,
  errnoCode,
  unrecognised,
  upstreamMessage,
} from "../upstream-errors.ts";

/** Recognises an engine's own error texts; undefined leaves the error to the generic mapping. */
export type RecogniseChatError = (
  message: string,
  error: InstanceType<typeof APIError>,
  model: string,
) => ServiceError | undefined;

export interface ChatErrorContext {
  /** The upstream's name in messages. */
  name: string;
  /** The base URL, for messages about connecting. */
  baseUrl: string;
  /** Which variables hold the credentials, for a 401 from upstream. */
  credentialsHint: string;
  recognise?: RecogniseChatError;
}

/**
 * Errors of an OpenAI-compatible chat endpoint, as thrown by the `openai` client and the fetch
 * beneath it, mapped once. Only statuses and recognised texts shape the message.
 */
export function createChatErrorMapper(ctx: ChatErrorContext) {
  return function mapChatError(error: unknown, model: string): ServiceError {
    if (error instanceof ServiceError) return error;
    if (error instanceof APIUserAbortError) {
      return new ServiceError(499, "cancelled", "The request was cancelled", { cause: error });
    }
    if (error instanceof APIConnectionError) return connectionError(errnoCode(error.cause), error);
    if (error instanceof APIError) {
      const message = upstreamMessage(error.error) ?? error.message;
      const known = ctx.recognise?.(message, error, model);
      if (known) return known;
      if ((error as { code?: unknown }).code === "model_not_found" || error.status === 404) {
        return new ServiceError(
          503,
          "model_not_loaded",
          `Chat service unavailable: Model "${model}" is not loaded. Load it with POST /models/load`,
          { cause: error },
        );
      }
      if (error.status === 401 || error.status === 403) {
        return new ServiceError(
          502,
          "upstream_auth_failed",
          `${ctx.name} refused our credentials: set ${ctx.credentialsHint}`,
          { cause: error },
        );
      }
      if (error.status !== undefined && error.status >= 400 && error.status < 500) {
        return new ServiceError(
          400,
          "upstream_error",
          `${ctx.name} rejected the request (HTTP ${error.status}); the service's log has its message`,
          { cause: error },
        );
      }
      return unrecognised(ctx.name, `to answer (HTTP ${error.status ?? "error"})`, error);
    }
    const code = errnoCode(error);
    if (code !== undefined && CONNECT_CODES.has(code)) return connectionError(code, error);
    return unrecognised(ctx.name, "unexpectedly", error);
  };

  function connectionError(code: string | undefined, error: unknown): ServiceError {
    if (code === "ECONNREFUSED") return connectionRefused(ctx.name, ctx.baseUrl, error);
    if (code === "UND_ERR_CONNECT_TIMEOUT") {
      return new ServiceError(
        504,
        "upstream_timeout",
        `${ctx.name} did not answer in time: connecting to ${ctx.baseUrl} took over CONNECT_TIMEOUT_MS`,
        { cause: error },
      );
    }
    return new ServiceError(
      502,
      "upstream_error",
      `Lost the connection to ${ctx.name} during the request (${code ?? "connection error"}); retry`,
      { cause: error },
    );
  }
}

export type ChatErrorMapper = ReturnType<typeof createChatErrorMapper>;
