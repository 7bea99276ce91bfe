import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ModelGate } from "../../core/models/model-gate.ts";
import { errorSchema, modelListSchema } from "./schemas.ts";

export interface ModelsRouteDeps {
  models: ModelGate;
  /** With AUTO_LOAD on, every downloaded model answers (it is loaded on first use). */
  autoLoad: boolean;
}

/** The publisher part of `publisher/model`, which is who "owns" a local model if anyone does. */
const ownerOf = (key: string) => (key.includes("/") ? (key.split("/")[0] as string) : "local");

export function registerModelsRoute(app: FastifyInstance, deps: ModelsRouteDeps): void {
  // OpenAI's `created` is when the model was published; nobody knows, so: when the service started.
  const created = Math.floor(Date.now() / 1000);
  app.withTypeProvider<ZodTypeProvider>().get(
    "/models",
    {
      schema: {
        summary: "OpenAI model list: loaded models, downloaded ones (with AUTO_LOAD) and aliases",
        tags: ["openai"],
        response: { 200: modelListSchema, 401: errorSchema, 503: errorSchema },
      },
    },
    async () => {
      const [loaded, downloaded] = await Promise.all([
        deps.models.listLoaded(),
        deps.autoLoad ? deps.models.listDownloaded() : Promise.resolve([]),
      ]);
      const owners = new Map<string, string>();
      for (const m of loaded) owners.set(m.identifier, ownerOf(m.modelKey));
      for (const m of downloaded) if (!owners.has(m.modelKey)) owners.set(m.modelKey, ownerOf(m.modelKey));
      for (const [alias, target] of deps.models.aliases) {
        if (!owners.has(alias)) owners.set(alias, ownerOf(target));
      }
      return {
        object: "list" as const,
        data: [...owners].map(([id, owned_by]) => ({ id, object: "model" as const, created, owned_by })),
      };
    },
  );
}
