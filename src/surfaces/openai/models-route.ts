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
      // With several upstreams, each model's: one entry per name, wherever it is.
      const where = new Map<string, Set<string>>();
      const at = (id: string, upstream: string | undefined) => {
        if (upstream === undefined) return;
        const set = where.get(id) ?? new Set<string>();
        set.add(upstream);
        where.set(id, set);
      };
      for (const m of loaded) {
        owners.set(m.identifier, ownerOf(m.modelKey));
        at(m.identifier, m.upstream);
      }
      for (const m of downloaded) {
        if (!owners.has(m.modelKey)) owners.set(m.modelKey, ownerOf(m.modelKey));
        at(m.modelKey, m.upstream);
      }
      for (const [alias, target] of deps.models.aliases) {
        if (!owners.has(alias)) owners.set(alias, ownerOf(target));
      }
      return {
        object: "list" as const,
        data: [...owners].map(([id, owned_by]) => {
          const upstreams = where.get(id);
          return {
            id,
            object: "model" as const,
            created,
            owned_by,
            ...(upstreams && { upstreams: [...upstreams].sort() }),
          };
        }),
      };
    },
  );
}
