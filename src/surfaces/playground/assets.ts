import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { Encoding } from "./negotiate.ts";

/** One file of the page, read once at start-up and compressed ahead of time. */
export interface Asset {
  type: string;
  etag: string;
  bodies: Record<Encoding, Buffer>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** The browser builds of marked and DOMPurify, served from node_modules: no CDN, no build step. */
const VENDOR: Record<string, string> = {
  "vendor/marked.esm.js": "marked",
  "vendor/purify.es.mjs": "dompurify",
};

const PAGE_DIR = new URL("./page/", import.meta.url);

const extension = (name: string) => name.slice(name.lastIndexOf("."));

function makeAsset(name: string, raw: Buffer): Asset {
  // Source-map comments would make an open devtools fetch maps that are not served.
  const body = /\.m?js$/.test(name)
    ? Buffer.from(raw.toString("utf8").replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n"))
    : raw;
  return {
    type: TYPES[extension(name)] ?? "application/octet-stream",
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
    bodies: {
      identity: body,
      gzip: gzipSync(body, { level: 9 }),
      br: brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    },
  };
}

/**
 * Every file of page/ (tests excluded) by its name, plus the vendor modules. Read at start-up:
 * the page is small, and a missing dependency fails the start, not the first visitor.
 */
export function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(PAGE_DIR)) {
    if (!(extension(name) in TYPES) || name.includes(".test.")) continue;
    assets.set(name, makeAsset(name, readFileSync(new URL(name, PAGE_DIR))));
  }
  for (const [name, pkg] of Object.entries(VENDOR)) {
    assets.set(name, makeAsset(name, readFileSync(fileURLToPath(import.meta.resolve(pkg)))));
  }
  return assets;
}
