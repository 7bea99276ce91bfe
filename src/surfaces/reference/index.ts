import type { FastifyPluginAsync } from "fastify";
import type { Config } from "../../config.ts";
import type { ChatService } from "../../core/chat/chat-service.ts";
import type { ModelGate } from "../../core/models/model-gate.ts";
import { registerJsonBodyParser } from "../../http/json-body-parser.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { registerChatRoutes } from "./chat-routes.ts";
import { createChatSchemas } from "./chat-schemas.ts";
import { registerHealthRoutes } from "./health-route.ts";
import { keepImagesAsBytes } from "./keep-images-as-bytes.ts";
import { notFound, sendReferenceError } from "./map-error.ts";
import { registerModelRoutes } from "./model-routes.ts";

export interface ReferenceApiOptions {
  config: Config;
  models: ModelGate;
  chat: ChatService;
  lifecycle: Lifecycle;
  progressIntervalMs: number;
}

/**
 * The reference API (the FastAPI original's paths and shapes) as one encapsulated plugin: its error
 * handler and its 404 apply to its routes only, so other surfaces keep their own error formats.
 */
export const referenceApi: FastifyPluginAsync<ReferenceApiOptions> = async (app, opts) => {
  app.setErrorHandler((error, request, reply) =>
    sendReferenceError(
      error as Parameters<typeof sendReferenceError>[0],
      request,
      reply,
      opts.config.maxBodyBytes,
    ),
  );
  app.setNotFoundHandler(notFound(app));
  // Images of megabytes stay the bytes they arrived in, from the socket to LM Studio.
  registerJsonBodyParser(app, keepImagesAsBytes(opts.config.maxImageBytes));
  registerHealthRoutes(app, { config: opts.config, models: opts.models, chat: opts.chat });
  registerModelRoutes(app, {
    models: opts.models,
    lifecycle: opts.lifecycle,
    progressIntervalMs: opts.progressIntervalMs,
  });
  registerChatRoutes(app, {
    config: opts.config,
    chat: opts.chat,
    schemas: createChatSchemas(opts.config.maxImageBytes),
    lifecycle: opts.lifecycle,
  });
};
