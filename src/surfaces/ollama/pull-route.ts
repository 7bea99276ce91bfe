import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { ServiceError } from "../../errors.ts";
import { pullRequestSchema } from "./schemas.ts";

/**
 * /api/pull. Not wired to LM Studio's downloader yet (the SDK's `repository` namespace): a clear
 * error that says where models come from instead.
 */
export function registerPullRoute(app: FastifyInstance): void {
  app
    .withTypeProvider<ZodTypeProvider>()
    .post("/pull", { schema: { body: pullRequestSchema, hide: true } }, async (request) => {
      const name = request.body.model ?? request.body.name;
      throw new ServiceError(
        501,
        "not_supported",
        `pull is not available here yet: download "${name}" in LM Studio (its app, or \`lms get ${name}\`), then it is listed by GET /api/tags`,
      );
    });
}
