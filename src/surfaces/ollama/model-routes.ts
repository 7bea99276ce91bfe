import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { closeMatches } from "../../core/models/close-matches.ts";
import type { ModelGate } from "../../core/models/model-gate.ts";
import { resolveModelName } from "../../core/models/resolve-model-name.ts";
import { ServiceError } from "../../errors.ts";
import { toPsEntry, toShow, toTagsEntry } from "./convert-to-ollama.ts";
import { localName } from "./model-name.ts";
import { anyObjectSchema, showRequestSchema } from "./schemas.ts";

/** The Ollama API version whose shapes this surface follows (the `ollama` npm client 0.6.4's). */
export const OLLAMA_API_VERSION = "0.12.0";

export interface ModelRouteDeps {
  models: ModelGate;
}

const MANAGED_BY_LMSTUDIO =
  "LM Studio manages its model files itself: download, delete and copy models in LM Studio (its app, or `lms get` / `lms rm`)";

export function registerModelRoutes(app: FastifyInstance, { models }: ModelRouteDeps): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();

  typed.get(
    "/tags",
    { schema: { summary: "Ollama: the downloaded models (and MODEL_ALIASES)", tags: ["ollama"] } },
    async () => {
      const downloaded = await models.listDownloaded();
      const entries = downloaded.map((m) => toTagsEntry(m));
      for (const [alias, target] of models.aliases) {
        const r = resolveModelName(
          target,
          downloaded.map((d) => d.modelKey),
        );
        const m = r.kind === "found" ? downloaded.find((d) => d.modelKey === r.name) : undefined;
        if (m) entries.push(toTagsEntry(m, alias));
      }
      return { models: entries };
    },
  );

  typed.get(
    "/ps",
    { schema: { summary: "Ollama: the loaded models, with when they expire", tags: ["ollama"] } },
    async () => ({ models: (await models.listLoaded()).map((m) => toPsEntry(m)) }),
  );

  typed.get(
    "/version",
    { schema: { summary: "Ollama: the API version this service speaks", tags: ["ollama"] } },
    async () => ({
      version: OLLAMA_API_VERSION,
      upstream: `${models.upstreamName} ${await models.version().catch(() => "unreachable")}`,
    }),
  );

  typed.post(
    "/show",
    {
      schema: {
        summary: "Ollama: a model's details, capabilities and context length",
        tags: ["ollama"],
        body: showRequestSchema,
      },
    },
    async (request) => {
      const asked = request.body.model ?? request.body.name ?? "";
      const name = models.dealias(localName(asked));
      const downloaded = await models.listDownloaded();
      const r = resolveModelName(
        name,
        downloaded.map((d) => d.modelKey),
      );
      const m = r.kind === "found" ? downloaded.find((d) => d.modelKey === r.name) : undefined;
      if (!m) {
        const near = closeMatches(
          name,
          downloaded.map((d) => d.modelKey),
        );
        const hint = near.length ? `; did you mean ${near.map((s) => `"${s}"`).join(", ")}?` : "";
        throw new ServiceError(
          404,
          "model_not_found",
          `model "${asked}" not found${hint} (GET /api/tags lists them)`,
        );
      }
      return toShow(m);
    },
  );

  // What LM Studio does in its own app: one clear error each, in Ollama's shape.
  for (const [method, path] of [
    ["DELETE", "/delete"],
    ["POST", "/copy"],
    ["POST", "/create"],
    ["POST", "/push"],
  ] as const) {
    typed.route({
      method,
      url: path,
      schema: { body: anyObjectSchema.optional(), hide: true },
      handler: async () => {
        throw new ServiceError(
          501,
          "not_supported",
          `${path.slice(1)} is not available here: ${MANAGED_BY_LMSTUDIO}`,
        );
      },
    });
  }
}
