import type { FastifyInstance, FastifyRequest } from "fastify";
import { ServiceError } from "../../errors.ts";

const raws = new WeakMap<FastifyRequest, Buffer>();

// Fatal: a body that is not UTF-8 is refused, not forwarded with replacement characters. The BOM
// is kept so that JSON.parse refuses it too (nothing we forward should differ from what we read).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * JSON bodies on /v1 are read as bytes and parsed once: the parsed value is for the gateway's own
 * checks (model, stream), the bytes are what goes upstream. Replaces Fastify's JSON parser in this
 * plugin only.
 */
export function registerRawJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const bytes = body as Buffer;
    let value: unknown;
    try {
      value = JSON.parse(utf8.decode(bytes));
    } catch {
      done(
        new ServiceError(
          400,
          "invalid_json",
          bytes.length === 0 ? "The body is empty: send a JSON object" : "The body is not valid UTF-8 JSON",
        ),
        undefined,
      );
      return;
    }
    raws.set(request, bytes);
    done(null, value);
  });
}

/** The bytes of a request's body as the client sent them. */
export function rawBody(request: FastifyRequest): Buffer {
  const raw = raws.get(request);
  if (!raw) throw new Error("route registered without the raw JSON parser");
  return raw;
}
