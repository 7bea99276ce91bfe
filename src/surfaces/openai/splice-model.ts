/** The OpenAI-compatible gateway (/v1): requests forwarded byte for byte, answers streamed back unchanged. */

/**
 * Where a JSON object's top-level "model" value sits in its bytes, so that the gateway can name
 * another model without re-serialising the body. Scans bytes, not characters: every structural
 * character of JSON is ASCII, and no byte of a multi-byte UTF-8 sequence is, so offsets are exact.
 * The input must already be known to be valid JSON (it was parsed); duplicate keys: the last wins,
 * as with JSON.parse.
 */
export interface ModelSpan {
  /** Offset just after the object's opening brace. */
  open: number;
  /** Whether the object has any member (an inserted "model" then needs a comma). */
  hasMembers: boolean;
  /** The value's [start, end) when the object has a top-level "model" key. */
  value?: [number, number];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;
const MODEL_KEY = Buffer.from('"model"');

const isSpace = (b: number | undefined) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

function skipSpace(buf: Buffer, i: number): number {
  while (isSpace(buf[i])) i++;
  return i;
}

/** From an opening quote to just after the closing one. */
function skipString(buf: Buffer, i: number): number {
  for (i++; i < buf.length; i++) {
    const b = buf[i];
    if (b === BACKSLASH) i++;
    else if (b === QUOTE) return i + 1;
  }
  return i;
}

function skipValue(buf: Buffer, i: number): number {
  const b = buf[i];
  if (b === QUOTE) return skipString(buf, i);
  if (b === OPEN_OBJ || b === OPEN_ARR) {
    let depth = 0;
    for (; i < buf.length; i++) {
      const c = buf[i];
      if (c === QUOTE) {
        i = skipString(buf, i) - 1;
      } else if (c === OPEN_OBJ || c === OPEN_ARR) {
        depth++;
      } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return i;
  }
  // A number, true, false or null: up to the next delimiter.
  while (i < buf.length) {
    const c = buf[i];
    if (c === COMMA || c === CLOSE_OBJ || c === CLOSE_ARR || isSpace(c)) break;
    i++;
  }
  return i;
}

function isModelKey(buf: Buffer, start: number, end: number): boolean {
  if (end - start === MODEL_KEY.length) return buf.compare(MODEL_KEY, 0, MODEL_KEY.length, start, end) === 0;
  // An escaped spelling ("mod\u0065l") is the same key to JSON.parse, so it is to us.
  const slash = buf.indexOf(BACKSLASH, start);
  if (slash < 0 || slash >= end) return false;
  return JSON.parse(buf.toString("utf8", start, end)) === "model";
}

/** Finds the top-level "model" of a JSON object already known to be valid. */
export function findModelSpan(buf: Buffer): ModelSpan {
  let i = skipSpace(buf, 0);
  if (buf[i] !== OPEN_OBJ) throw new TypeError("not a JSON object");
  const open = i + 1;
  let hasMembers = false;
  let value: [number, number] | undefined;
  i = skipSpace(buf, open);
  while (i < buf.length && buf[i] !== CLOSE_OBJ) {
    hasMembers = true;
    const keyStart = i;
    i = skipString(buf, i);
    const keyEnd = i;
    i = skipSpace(buf, i);
    if (buf[i] !== COLON) throw new TypeError("not a JSON object");
    i = skipSpace(buf, i + 1);
    const valueStart = i;
    i = skipValue(buf, i);
    if (isModelKey(buf, keyStart, keyEnd)) value = [valueStart, i];
    i = skipSpace(buf, i);
    if (buf[i] === COMMA) i = skipSpace(buf, i + 1);
  }
  return { open, hasMembers, ...(value && { value }) };
}

/** The body with its top-level "model" set to `model` (inserted first when it had none); nothing else moves. */
export function spliceModel(buf: Buffer, span: ModelSpan, model: string): Buffer {
  const name = Buffer.from(JSON.stringify(model));
  if (span.value) {
    const [start, end] = span.value;
    if (end - start === name.length && buf.compare(name, 0, name.length, start, end) === 0) return buf;
    return Buffer.concat([buf.subarray(0, start), name, buf.subarray(end)]);
  }
  const member = Buffer.from(`"model":${name}${span.hasMembers ? "," : ""}`);
  return Buffer.concat([buf.subarray(0, span.open), member, buf.subarray(span.open)]);
}
