import type { FastifyInstance, RouteOptions } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";

interface Documented {
  method: string;
  path: string;
  summary: string;
  example?: unknown;
}

const helpSchema = z.object({
  name: z.string(),
  version: z.string(),
  docs: z.object({ openapi: z.string(), interactive: z.string() }),
  endpoints: z.array(
    z.object({
      method: z.string(),
      path: z.string(),
      summary: z.string(),
      example: z.unknown().optional().describe("An example request body."),
    }),
  ),
});

const firstExample = (schema: unknown): unknown => {
  if (!(schema instanceof z.ZodType)) return undefined;
  const meta = schema.meta() as { examples?: unknown[] } | undefined;
  return meta?.examples?.[0];
};

/**
 * Collects every route as it is registered, so that /help is generated from the same route
 * schemas as the OpenAPI document. Must be registered before the routes it documents.
 */
export function collectRoutes(app: FastifyInstance): Documented[] {
  const routes: Documented[] = [];
  app.addHook("onRoute", (route: RouteOptions) => {
    const schema = route.schema as { summary?: string; body?: unknown; hide?: boolean } | undefined;
    if (!schema?.summary || schema.hide) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === "HEAD") continue;
      const example = firstExample(schema.body);
      routes.push({
        method,
        path: route.url,
        summary: schema.summary,
        ...(example !== undefined && { example }),
      });
    }
  });
  return routes;
}

export function registerDocRoutes(app: FastifyInstance, routes: Documented[], version: string): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    "/help",
    {
      schema: {
        summary: "API documentation as JSON: every endpoint with an example body",
        tags: ["docs"],
        response: { 200: helpSchema },
      },
    },
    async () => ({
      name: "lmstudio-service",
      version,
      docs: { openapi: "/openapi.json", interactive: "/docs" },
      endpoints: [...routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method)),
    }),
  );
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
