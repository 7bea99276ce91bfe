import type { FastifyPluginAsync } from "fastify";
import type { Config } from "../../config.ts";
import type { ChatService } from "../../core/chat/chat-service.ts";
import type { PassthroughService } from "../../core/passthrough/passthrough-service.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { registerForwardRoutes } from "./forward-routes.ts";
import { registerModelsRoute } from "./models-route.ts";
import { registerRawJsonParser } from "./raw-json-body.ts";
import { notFound, sendOpenAiError } from "./render-error.ts";

export interface OpenAiApiOptions {
  config: Config;
  /** For admission only: /v1 shares the chats' slots and queue. */
  chat: ChatService;
  passthrough: PassthroughService;
  lifecycle: Lifecycle;
}

/**
 * The OpenAI-compatible gateway as one encapsulated plugin (registered with prefix "/v1"): its
 * own JSON parser (bytes kept), error handler and 404, so that OpenAI's SDKs raise their usual
 * typed errors and nothing here answers in the reference API's shape.
 */
export const openAiApi: FastifyPluginAsync<OpenAiApiOptions> = async (app, opts) => {
  app.setErrorHandler((error, request, reply) =>
    sendOpenAiError(error as Parameters<typeof sendOpenAiError>[0], request, reply, opts.config.maxBodyBytes),
  );
  app.setNotFoundHandler(notFound(app));
  registerRawJsonParser(app);
  registerModelsRoute(app, { models: opts.passthrough.models, autoLoad: opts.passthrough.autoLoad });
  registerForwardRoutes(app, opts);
};
