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
    if (typeof part === "object" && part !== null && (part as { type?: unknown }).type === "text") {
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

export function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as { role?: unknown; content?: unknown } | null;
    if (typeof m === "object" && m !== null && m.role === "user") return contentText(m.content).trim();
  }
  return "";
}

const DATA_URL = /^data:image\/[A-Za-z0-9.+-]+;base64,([A-Za-z0-9+/]*={0,2})$/;

function validDataUrl(url: unknown): boolean {
  if (typeof url !== "string") return false;
  const m = DATA_URL.exec(url);
  if (m === null) return false;
  const b64 = m[1] ?? "";
  return b64.length > 0 && b64.length % 4 === 0;
}

/**
 * Checks the image_url parts of the messages: "unsupported" if there is one and the model has no
 * vision, "invalid" if one is not a base64 data URL, null when fine.
 */
export function findImageProblem(messages: unknown[], vision: boolean): "unsupported" | "invalid" | null {
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
      if (!validDataUrl(url)) invalid = true;
    }
  }
  if (!any) return null;
  if (!vision) return "unsupported";
  return invalid ? "invalid" : null;
}
