/** The Ollama-compatible API: Ollama's /api paths and shapes in front of LM Studio, as one plugin. */
import type { FastifyPluginAsync } from "fastify";
import type { ChatService } from "../../core/chat/chat-service.ts";
import type { EmbeddingService } from "../../core/embeddings/embedding-service.ts";
import type { ModelDownloads } from "../../core/models/model-downloads.ts";
import type { ModelGate } from "../../core/models/model-gate.ts";
import { registerJsonBodyParser } from "../../http/json-body-parser.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { registerChatRoutes } from "./chat-routes.ts";
import { registerEmbedRoutes } from "./embed-routes.ts";
import { notFound, sendOllamaError } from "./map-error.ts";
import { registerModelRoutes } from "./model-routes.ts";
import { registerPullRoute } from "./pull-route.ts";

export interface OllamaApiOptions {
  models: ModelGate;
  chat: ChatService;
  embeddings: EmbeddingService;
  downloads: ModelDownloads;
  lifecycle: Lifecycle;
  maxImageBytes: number;
  maxBodyBytes: number;
}

/**
 * Registered with `prefix: "/api"`. Its error handler and its 404 apply to its routes only: errors
 * here are Ollama's `{"error": "..."}`, whatever the other surfaces answer.
 */
export const ollamaApi: FastifyPluginAsync<OllamaApiOptions> = async (app, opts) => {
  app.setErrorHandler((error, request, reply) =>
    sendOllamaError(error as Parameters<typeof sendOllamaError>[0], request, reply, opts.maxBodyBytes),
  );
  app.setNotFoundHandler(notFound(app));
  // Ollama reads every body as JSON whatever its type: its docs' `curl -d` sends a form type. The
  // body is lexed as it arrives and its long strings (base64 images) are parsed one by one, not as
  // one string of the whole body.
  registerJsonBodyParser(app, undefined, { anyType: true });
  registerModelRoutes(app, { models: opts.models });
  registerChatRoutes(app, {
    chat: opts.chat,
    models: opts.models,
    lifecycle: opts.lifecycle,
    maxImageBytes: opts.maxImageBytes,
  });
  registerEmbedRoutes(app, { chat: opts.chat, embeddings: opts.embeddings, lifecycle: opts.lifecycle });
  registerPullRoute(app, { downloads: opts.downloads, lifecycle: opts.lifecycle });
};
