import fp from "fastify-plugin";
import { ServiceError } from "../errors.ts";

/** Bodies we cannot read are refused before parsing: compressed ones, and charsets other than UTF-8. */
export const bodyChecksPlugin = fp(
  async (app) => {
    // JSON only: Fastify's default text/plain parser would turn a text body into a 422 on "body".
    app.removeContentTypeParser("text/plain");
    app.addHook("onRequest", async (request) => {
      const encoding = request.headers["content-encoding"];
      if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
        throw new ServiceError(
          415,
          "unsupported_media_type",
          `Content-Encoding "${encoding}" is not supported: send the body uncompressed`,
        );
      }
      const type = request.headers["content-type"];
      if (type === undefined) return;
      const charset = /;\s*charset=([^;\s]+)/i.exec(type)?.[1]?.replace(/"/g, "");
      if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
        throw new ServiceError(
          415,
          "unsupported_media_type",
          `charset "${charset}" is not supported: send UTF-8 JSON`,
        );
      }
    });
  },
  { name: "body-checks" },
);
