import fp from "fastify-plugin";
import { ServiceError } from "../errors.ts";
import { createApiKeyCheck } from "../http/auth.ts";

export interface AuthOptions {
  apiKeys: string[];
  /** Route paths anyone may read: health probes and the documentation. */
  isPublic: (routePath: string | undefined) => boolean;
}

/**
 * API keys, when API_KEYS is set: `Authorization: Bearer <key>`, or `x-api-key: <key>` as
 * Anthropic's clients send it to /v1/messages. Preflights and public paths pass.
 */
export const authPlugin = fp<AuthOptions>(
  async (app, { apiKeys, isPublic }) => {
    if (apiKeys.length === 0) return;
    const checkKey = createApiKeyCheck(apiKeys);
    app.addHook("onRequest", async (request, reply) => {
      if (request.method === "OPTIONS" || isPublic(request.routeOptions.url)) return;
      if (checkKey(request.headers.authorization)) return;
      const apiKey = request.headers["x-api-key"];
      if (typeof apiKey === "string" && checkKey(`Bearer ${apiKey}`)) return;
      reply.header("www-authenticate", 'Bearer realm="lmstudio-service"');
      throw new ServiceError(
        401,
        "unauthorized",
        "Missing or invalid API key: send Authorization: Bearer <key> (or x-api-key: <key>)",
      );
    });
  },
  { name: "auth" },
);
