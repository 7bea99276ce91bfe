import type { IncomingHttpHeaders } from "node:http";
import fp from "fastify-plugin";
import { ServiceError } from "../errors.ts";

/** What is wrong with a body we cannot read: compressed, or in a charset other than UTF-8. */
function bodyProblem(headers: IncomingHttpHeaders): ServiceError | undefined {
  const encoding = headers["content-encoding"];
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
    return new ServiceError(
      415,
      "unsupported_media_type",
      `Content-Encoding "${encoding}" is not supported: send the body uncompressed`,
    );
  }
  const type = headers["content-type"];
  if (type === undefined) return undefined;
  const charset = /;\s*charset=([^;\s]+)/i.exec(type)?.[1]?.replace(/"/g, "");
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    return new ServiceError(
      415,
      "unsupported_media_type",
      `charset "${charset}" is not supported: send UTF-8 JSON`,
    );
  }
  return undefined;
}

/** Bodies we cannot read are refused before parsing: compressed ones, and charsets other than UTF-8. */
export const bodyChecksPlugin = fp(
  async (app) => {
    // JSON only: Fastify's default text/plain parser would turn a text body into a 422 on "body".
    app.removeContentTypeParser("text/plain");
    // A callback hook, not an async one: no promise per request on this path.
    app.addHook("onRequest", (request, _reply, done) => {
      const problem = bodyProblem(request.headers);
      if (problem) done(problem);
      else done();
    });
  },
  { name: "body-checks" },
);
