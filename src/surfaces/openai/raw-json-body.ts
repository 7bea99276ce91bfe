import type { FastifyInstance, FastifyRequest } from "fastify";
import { ServiceError } from "../../errors.ts";
import type { JsonSkeleton } from "../../http/json-skeleton.ts";
import { readJsonBody } from "../../http/read-json-body.ts";

const raws = new WeakMap<FastifyRequest, JsonSkeleton>();

/**
 * Strings this long (base64 images, documents) are checked by the lexer and kept out of the parse:
 * the gateway reads none of them, only `model`, `stream` and the shape around them.
 */
const MIN_CUT = 16 * 1024;

/**
 * JSON bodies on /v1 are kept as the bytes they arrived in, and parsed without their long strings
 * (see JsonSkeleton): the parsed value is for the gateway's own checks (model, stream), the bytes
 * are what goes upstream. Replaces Fastify's JSON parser in this plugin only.
 */
export function registerRawJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", (request, payload, done) => {
    readJsonBody(request, payload, MIN_CUT, (error, body) => {
      if (error || !body) {
        done(error, undefined);
        return;
      }
      let value: unknown;
      try {
        value = body.parse(() => "");
      } catch {
        done(
          new ServiceError(
            400,
            "invalid_json",
            body.length === 0 ? "The body is empty: send a JSON object" : "The body is not valid UTF-8 JSON",
          ),
          undefined,
        );
        return;
      }
      raws.set(request, body);
      done(null, value);
    });
  });
}

/** A request's body as the client sent it. */
export function rawBody(request: FastifyRequest): JsonSkeleton {
  const raw = raws.get(request);
  if (!raw) throw new Error("route registered without the raw JSON parser");
  return raw;
}
