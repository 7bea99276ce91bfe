import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import Fastify from "fastify";
import type { Cut, JsonSkeleton } from "./json-skeleton.ts";
import { readJsonBody } from "./read-json-body.ts";

const { FST_ERR_CTP_EMPTY_JSON_BODY, FST_ERR_CTP_INVALID_JSON_BODY } = Fastify.errorCodes;

/**
 * Whether a parsed JSON value has an own `__proto__` key, or a `constructor` key holding an object
 * with a `prototype`: what Fastify's default parser refuses (prototype poisoning).
 */
export function hasPoisonedKey(root: unknown): boolean {
  // A stack, not recursion: a body may nest deeper than the call stack goes.
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== "object") continue;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item === "object") stack.push(item);
      continue;
    }
    if (Object.hasOwn(value, "__proto__")) return true;
    const ctor = (value as { constructor?: unknown }).constructor;
    if (
      Object.hasOwn(value, "constructor") &&
      ctor !== null &&
      typeof ctor === "object" &&
      Object.hasOwn(ctor, "prototype")
    )
      return true;
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== null && typeof item === "object") stack.push(item);
    }
  }
  return false;
}

/** Strings this long below the top level are kept out of the parse until a route wants them. */
const MIN_CUT = 16 * 1024;

/**
 * A parsed body's long strings, cut out of the parse (see JsonSkeleton): each stands in the value
 * as a marker string until `KeepAsBytes` keeps it as bytes or the parser puts the string back.
 */
export class LongStrings {
  readonly #body: JsonSkeleton;
  /** What each marker starts with: NUL and a random tag, so that no string a client sends is one. */
  readonly #tag: string;

  constructor(body: JsonSkeleton) {
    this.#body = body;
    this.#tag = `\0${randomUUID()}:`;
  }

  /** The stand-in of cut k in the skeleton's JSON text (the NUL escaped, as JSON wants it). */
  standIn = (k: number): string => `\\u0000${this.#tag.slice(1)}${k}`;

  /** Which cut a value of the parsed body stands for, if it is a marker. */
  indexOf(value: unknown): number | undefined {
    if (typeof value !== "string" || value.charCodeAt(0) !== 0 || !value.startsWith(this.#tag))
      return undefined;
    const k = Number(value.slice(this.#tag.length));
    return Number.isInteger(k) && k >= 0 && k < this.#body.cuts.length ? k : undefined;
  }

  /** Cut k's bytes (its JSON string content, quotes excluded), as views of the request's chunks. */
  pieces(k: number): Buffer[] {
    const cut = this.#body.cuts[k];
    return cut ? this.#body.slices(cut.start, cut.end) : [];
  }

  /** Whether cut k's bytes have escapes in them (they are then not its characters one for one). */
  escaped(k: number): boolean {
    return this.#body.cuts[k]?.escaped ?? true;
  }

  /** What the lexer saw of cut k's bytes that tells base64 (see Cut). */
  base64Facts(k: number): Pick<Cut, "lastSymbol" | "firstPad"> | undefined {
    const cut = this.#body.cuts[k];
    return cut && { lastSymbol: cut.lastSymbol, firstPad: cut.firstPad };
  }

  /** Cut k as a string. */
  value(k: number): string {
    return this.#body.cutValue(k);
  }
}

/**
 * A route's say in a body whose long strings were cut: it may replace markers (LongStrings.indexOf)
 * in `value` by what it checks and keeps as bytes itself; the parser puts back every marker left.
 */
export type KeepAsBytes = (value: unknown, strings: LongStrings, request: FastifyRequest) => void;

/** Replaces each marker still in the value by its string. */
function putBack(root: unknown, strings: LongStrings): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== "object") continue;
    const record = node as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (typeof item === "string") {
        const k = strings.indexOf(item);
        if (k !== undefined) record[key] = strings.value(k);
      } else if (item !== null && typeof item === "object") stack.push(item);
    }
  }
}

/**
 * Fastify's JSON parser with the same errors and the same protection, for an encapsulated plugin's
 * routes, minus what costs on a body of megabytes of base64 images: its two regular expressions over
 * the whole text (it looks for `"__proto__"` and `"constructor"` before parsing; the parsed value is
 * walked instead, and it is small however large its strings), the joined copy of the chunks and the
 * string of the whole body. The body is lexed as it arrives (JsonSkeleton) and only its envelope is
 * parsed; `keep` may keep long strings (images) as the bytes they came in, the others are read back.
 */
export function registerJsonBodyParser(
  app: FastifyInstance,
  keep?: KeepAsBytes,
  opts: { anyType?: boolean } = {},
): void {
  const parser = (
    request: FastifyRequest,
    payload: IncomingMessage,
    done: (e: Error | null, v?: unknown) => void,
  ) => {
    readJsonBody(request, payload, MIN_CUT, (error, body) => {
      if (error || !body) return done(error, undefined);
      if (body.length === 0) return done(new FST_ERR_CTP_EMPTY_JSON_BODY(), undefined);
      const strings = body.cuts.length > 0 ? new LongStrings(body) : undefined;
      let value: unknown;
      try {
        // Not UTF-8: replacement characters, as Fastify's own parser reads it.
        value = body.parse(strings?.standIn ?? (() => ""), true);
      } catch {
        return done(new FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      }
      if (hasPoisonedKey(value)) return done(new FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      if (strings) {
        keep?.(value, strings, request);
        putBack(value, strings);
      }
      done(null, value);
    });
  };
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", parser);
  // Bodies of any other type read as JSON too (Ollama's docs send JSON with curl's form type).
  if (opts.anyType) app.addContentTypeParser("*", parser);
}
