// http: transport shared by every surface, with no domain (signals, NDJSON, validation, errors).
import { createHash, timingSafeEqual } from "node:crypto";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Bearer-token check against API_KEYS. Both sides are hashed first so that the comparison takes
 * the same time whatever the key's length, and every key is compared (no early exit).
 */
export function createApiKeyCheck(keys: string[]): (authorization: string | undefined) => boolean {
  const digests = keys.map(digest);
  return (authorization) => {
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
    const given = digest(match?.[1]?.trim() ?? "");
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, given) || ok;
    return ok && match !== null;
  };
}
