/** Text helpers of the LM Studio emulator: tokens (= whitespace-separated words), prompts, images. */

/**
 * Splits a reply into "tokens": each word with the whitespace before it, so that joining the
 * tokens gives back the text exactly (trailing whitespace goes with the last token).
 */
export function splitTokens(text: string): string[] {
  const tokens = text.match(/\s*\S+/g) ?? [];
  if (tokens.length === 0) return text === "" ? [] : [text];
  let len = 0;
  for (const t of tokens) len += t.length;
  if (len < text.length) tokens[tokens.length - 1] += text.slice(len);
  return tokens;
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160;
}

export function countWords(text: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text.charCodeAt(i))) inWord = false;
    else if (!inWord) {
      inWord = true;
      n++;
    }
  }
  return n;
}

function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let out = "";
  for (const part of content) {
    const type = typeof part === "object" && part !== null ? (part as { type?: unknown }).type : undefined;
    // "text": chat completions and Anthropic messages; "input_text": the Responses API
    if (type === "text" || type === "input_text") {
      const t = (part as { text?: unknown }).text;
      if (typeof t === "string") out += out === "" ? t : ` ${t}`;
    }
  }
  return out;
}

/** prompt_tokens: the words of every message's text content. */
export function countPromptWords(messages: unknown[]): number {
  let n = 0;
  for (const m of messages) {
    if (typeof m === "object" && m !== null)
      n += countWords(contentText((m as { content?: unknown }).content));
  }
  return n;
}

/** Words of a prompt given as a string, an array of strings, or content parts. */
export function countTextWords(value: unknown): number {
  if (typeof value === "string") return countWords(value);
  if (Array.isArray(value)) {
    let n = 0;
    for (const v of value)
      n +=
        typeof v === "string"
          ? countWords(v)
          : countWords(contentText((v as { content?: unknown })?.content ?? [v]));
    return n;
  }
  return 0;
}

export function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (typeof m === "object" && m !== null && m.role === "user") return contentText(m.content).trim();
  }
  return "";
}

const DATA_URL = /^data:image\/([A-Za-z0-9.+-]+);base64,([A-Za-z0-9+/]*={0,2})$/;

function validDataUrl(url: unknown, rejectWebp: boolean): boolean {
  if (typeof url !== "string") return false;
  const m = DATA_URL.exec(url);
  if (m === null) return false;
  // LM Studio 0.3.27 through 0.4.9 (and later reports) reject WebP data URLs (bug-tracker #1027, #1752)
  if (rejectWebp && (m[1] ?? "").toLowerCase() === "webp") return false;
  const b64 = m[2] ?? "";
  return b64.length > 0 && b64.length % 4 === 0;
}

/**
 * Checks the image_url parts of the messages: "unsupported" if there is one and the model has no
 * vision, "invalid" if one is not a base64 data URL, null when fine.
 */
export function findImageProblem(
  messages: unknown[],
  vision: boolean,
  rejectWebp = false,
): "unsupported" | "invalid" | null {
  let invalid = false;
  let any = false;
  for (const m of messages) {
    if (typeof m !== "object" || m === null) continue;
    const content = (m as { content?: unknown }).content;
    if (!Array.isArray(content)) continue;
    for (const part of content) {
      if (typeof part !== "object" || part === null) continue;
      const p = part as { type?: unknown; image_url?: unknown };
      if (p.type !== "image_url") continue;
      any = true;
      const iu = p.image_url;
      const url =
        typeof iu === "string"
          ? iu
          : typeof iu === "object" && iu !== null
            ? (iu as { url?: unknown }).url
            : undefined;
      if (!validDataUrl(url, rejectWebp)) invalid = true;
    }
  }
  if (!any) return null;
  if (!vision) return "unsupported";
  return invalid ? "invalid" : null;
}

/** A deterministic unit vector of `dims` numbers derived from the text (FNV-1a seed, xorshift32). */
export function embeddingOf(text: string, dims: number): number[] {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let x = h || 1;
  const out = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const v = x / 0xffffffff - 0.5;
    out[i] = v;
    norm += v * v;
  }
  const k = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dims; i++) out[i] = (out[i] as number) * k;
  return out;
}

/** Token ids for a text: one per word, a stable hash of the word below 32000. */
export function tokenIdsOf(text: string): number[] {
  const words = text.match(/\S+/g) ?? [];
  return words.map((w) => {
    let h = 0x811c9dc5;
    for (let i = 0; i < w.length; i++) {
      h ^= w.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h % 32000;
  });
}
