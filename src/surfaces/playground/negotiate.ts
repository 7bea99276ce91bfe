/** Content negotiation for the playground: HTML for browsers, JSON for API clients, the smallest encoding. */

interface MediaRange {
  type: string;
  q: number;
}

function parseList(header: string | undefined): MediaRange[] {
  if (!header) return [];
  return header.split(",").flatMap((part) => {
    const [type = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    if (!type) return [];
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    return [{ type, q: Number.isFinite(q) ? q : 0 }];
  });
}

/**
 * True only when the client names text/html itself (a browser does) and prefers it at least as
 * much as JSON: curl's `*\/*` and `Accept: application/json` get the JSON pointer, not a page.
 */
export function wantsHtml(accept: string | undefined): boolean {
  const ranges = parseList(accept);
  const html = Math.max(
    0,
    ...ranges.filter((r) => r.type === "text/html" || r.type === "application/xhtml+xml").map((r) => r.q),
  );
  if (html === 0) return false;
  const json = Math.max(0, ...ranges.filter((r) => r.type === "application/json").map((r) => r.q));
  return html >= json;
}

export type Encoding = "br" | "gzip" | "identity";

/** Brotli, then gzip, when the client accepts it (an explicit `q=0` refuses). */
export function pickEncoding(acceptEncoding: string | undefined): Encoding {
  const ranges = parseList(acceptEncoding);
  const q = (name: string) => {
    const exact = ranges.find((r) => r.type === name);
    if (exact) return exact.q;
    return ranges.find((r) => r.type === "*")?.q ?? 0;
  };
  if (q("br") > 0) return "br";
  if (q("gzip") > 0) return "gzip";
  return "identity";
}
