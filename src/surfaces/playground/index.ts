/** Playground surface: the web page at `/` (plain HTML/CSS/JS modules) and its static assets. */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { fromFastifyError } from "../../http/fastify-errors.ts";
import { type Asset, loadAssets } from "./assets.ts";
import { pickEncoding, wantsHtml } from "./negotiate.ts";

export const ASSET_PREFIX = "/playground";

/** Public paths: the page itself and its assets (the API calls it makes carry the key). */
export const isPlaygroundPath = (path: string | undefined): boolean =>
  path === "/" || path === `${ASSET_PREFIX}/*`;

/**
 * The page may run only its own scripts and talk only to this service: a model's answer that
 * slipped past the sanitiser still could not load a script or send data anywhere.
 */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

const API_POINTER = {
  name: "lmstudio-service",
  message: "An HTTP API in front of LM Studio. Open / in a browser for the playground.",
  help: "/help",
  docs: "/docs",
  openapi: "/openapi.json",
};

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset, vary: string) {
  reply.header("vary", vary).header("etag", asset.etag).header("cache-control", "no-cache");
  reply.header("x-content-type-options", "nosniff");
  if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  const encoding = pickEncoding(request.headers["accept-encoding"]);
  if (encoding !== "identity") reply.header("content-encoding", encoding);
  return reply.type(asset.type).send(asset.bodies[encoding]);
}

export const playground: FastifyPluginAsync = async (app) => {
  const assets = loadAssets();
  const page = assets.get("index.html");
  if (!page) throw new Error("playground: page/index.html is missing");

  app.setErrorHandler((error, request, reply) => {
    const e = fromFastifyError(error as Parameters<typeof fromFastifyError>[0], request, 0);
    if (e.code === "internal_error") request.log.error({ err: error }, "unhandled error");
    return reply.code(e.status).headers(e.headers).send({ detail: e.message, code: e.code });
  });

  app.get(
    "/",
    {
      schema: {
        summary: "The web playground (HTML for browsers); API clients get a pointer to /help and /docs",
        tags: ["docs"],
      },
    },
    async (request, reply) => {
      if (wantsHtml(request.headers.accept)) {
        reply.headers(PAGE_HEADERS);
        return sendAsset(request, reply, page, "accept, accept-encoding");
      }
      return reply.header("vary", "accept").send(API_POINTER);
    },
  );

  await app.register(
    async (scope) => {
      scope.setNotFoundHandler((request, reply) =>
        reply
          .code(404)
          .send({ detail: `Not Found: ${request.method} ${request.url.split("?")[0]}`, code: "not_found" }),
      );
      scope.get("/*", { schema: { hide: true } }, async (request, reply) => {
        const name = (request.params as { "*": string })["*"];
        const asset = name === "index.html" ? undefined : assets.get(name);
        if (!asset) return reply.callNotFound();
        return sendAsset(request, reply, asset, "accept-encoding");
      });
    },
    { prefix: ASSET_PREFIX },
  );
};
