import { readFileSync } from "node:fs";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance, RouteOptions } from "fastify";
import fp from "fastify-plugin";
import { jsonSchemaTransform, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";

/** Plugins: the documentation (OpenAPI, the /docs page, /help). */
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

/** Every route as it is registered, so that /help comes from the same schemas as the OpenAPI document. */
function collectRoutes(app: FastifyInstance): Documented[] {
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

function registerDocRoutes(app: FastifyInstance, routes: Documented[], version: string): void {
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

const { version: VERSION } = JSON.parse(
  readFileSync(new URL("../../package.json", import.meta.url), "utf8"),
) as {
  version: string;
};

/** Documentation paths, public even when API_KEYS is set: a page that needs a key to explain keys helps nobody. */
export const isDocsPath = (path: string | undefined): boolean =>
  path === "/openapi.json" || path === "/help" || path === "/docs" || (path?.startsWith("/docs/") ?? false);

const LOGO = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="220" height="32"><text x="0" y="24" ' +
    'font-family="sans-serif" font-size="20" font-weight="bold" fill="#ffffff">lmstudio-service</text></svg>',
);

/**
 * The documentation: the OpenAPI document (generated from the route schemas that validate
 * requests), the interactive page at /docs, and /help as JSON. Registered before the surfaces so
 * that it sees every route they add.
 */
export const docsPlugin = fp<{ apiKeys: boolean }>(
  async (app, { apiKeys }) => {
    const documented = collectRoutes(app);
    await app.register(swagger, {
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "lmstudio-service",
          version: VERSION,
          description:
            "A clean HTTP API in front of local LLMs and VLMs served by LM Studio: model management " +
            "(load, unload, progress) and chat (text and vision, JSON or NDJSON streaming). " +
            "The OpenAPI document: [/openapi.json](/openapi.json); as JSON with examples: [/help](/help)." +
            (apiKeys ? " This service needs an API key: press Authorize and enter one." : ""),
        },
        tags: [
          { name: "chat", description: "Chat with text or images" },
          { name: "models", description: "Load, unload and list models" },
          {
            name: "openai",
            description: "OpenAI-compatible gateway (/v1): requests passed through to the upstream",
          },
          { name: "health", description: "Liveness" },
          { name: "docs", description: "Documentation" },
        ],
        ...(apiKeys && {
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
          security: [{ bearer: [] }],
        }),
      },
      transform: jsonSchemaTransform,
    });
    await app.register(swaggerUi, {
      routePrefix: "/docs",
      uiConfig: { docExpansion: "list", deepLinking: true, persistAuthorization: false },
      theme: { title: "lmstudio-service API" },
      logo: { type: "image/svg+xml", content: LOGO, href: "/docs", target: "_self" },
    });
    registerDocRoutes(app, documented, VERSION);
  },
  { name: "docs" },
);
