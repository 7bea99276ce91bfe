import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ChatService } from "../../core/chat/chat-service.ts";
import type { EmbeddingService } from "../../core/embeddings/embedding-service.ts";
import type { Lifecycle } from "../../http/lifecycle.ts";
import { admission, admitBeforeBody } from "../common/admit-before-body.ts";
import { nanos } from "./convert-to-ollama.ts";
import { badRequest, keepAliveSeconds, loadTtlSeconds } from "./convert-to-upstream.ts";
import { localName } from "./model-name.ts";
import { embeddingsRequestSchema, embedRequestSchema } from "./schemas.ts";

export interface EmbedRouteDeps {
  chat: ChatService;
  embeddings: EmbeddingService;
  lifecycle: Lifecycle;
}

export function registerEmbedRoutes(app: FastifyInstance, deps: EmbedRouteDeps): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  // Embeddings take the GPU like chats: same slots, same queue.
  const preParsing = admitBeforeBody(deps.chat, deps.lifecycle, "ollama");

  typed.post(
    "/embed",
    {
      preParsing,
      schema: { summary: "Ollama: embed one text or many", tags: ["ollama"], body: embedRequestSchema },
    },
    async (request, reply) => {
      const body = request.body;
      if (body.dimensions !== undefined) {
        throw badRequest("dimensions is not supported: LM Studio returns the model's own vector length");
      }
      const { ticket, signal } = admission(request, reply);
      try {
        const r = await deps.embeddings.embed({
          model: localName(body.model),
          input: typeof body.input === "string" ? [body.input] : body.input,
          signal,
          ttlSeconds: loadTtlSeconds(keepAliveSeconds(body.keep_alive)),
        });
        return {
          model: body.model,
          embeddings: r.embeddings,
          total_duration: nanos(reply.elapsedTime),
          load_duration: nanos(r.loadMs),
          prompt_eval_count: r.promptTokens ?? 0,
        };
      } finally {
        ticket.release();
      }
    },
  );

  typed.post(
    "/embeddings",
    {
      preParsing,
      schema: {
        summary: "Ollama (legacy): embed one prompt",
        tags: ["ollama"],
        body: embeddingsRequestSchema,
      },
    },
    async (request, reply) => {
      const body = request.body;
      const { ticket, signal } = admission(request, reply);
      try {
        const r = await deps.embeddings.embed({
          model: localName(body.model),
          input: [body.prompt],
          signal,
          ttlSeconds: loadTtlSeconds(keepAliveSeconds(body.keep_alive)),
        });
        return { embedding: r.embeddings[0] ?? [] };
      } finally {
        ticket.release();
      }
    },
  );
}
