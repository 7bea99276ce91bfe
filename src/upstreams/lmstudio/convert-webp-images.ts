// upstreams/lmstudio: LM Studio as an upstream (SDK for models, HTTP for chats, its error texts).
import { ServiceError } from "../../errors.ts";
import type { Blobs, ChatRequest, UpstreamMessage } from "../types.ts";

const WEBP_URL = "data:image/webp;base64,";

/**
 * LM Studio rejects WebP data URLs ("'url' field must be a base64 encoded image", reported from
 * 0.3.27 through 0.4.9: lmstudio-bug-tracker #1027, #1752), while the reference API accepts WebP.
 * So WebP images become PNG (lossless) before they leave; other messages pass untouched, as the
 * same objects. An image kept as bytes (its URL a key of `blobs`) is read from them.
 */
export async function convertWebpImages(request: ChatRequest): Promise<ChatRequest> {
  const { messages, blobs } = request;
  if (!messages.some((m) => hasWebp(m, blobs))) return request;
  const converted = await Promise.all(
    messages.map(async (m) => {
      if (!hasWebp(m, blobs) || typeof m.content === "string") return m;
      const content = await Promise.all(
        m.content.map(async (part) => {
          const webp = part.type === "image_url" ? webpPayload(part.image_url.url, blobs) : undefined;
          if (webp === undefined) return part;
          const png = await toPng(webp);
          return { type: "image_url" as const, image_url: { url: `data:image/png;base64,${png}` } };
        }),
      );
      return { ...m, content };
    }),
  );
  return { ...request, messages: converted };
}

/** A WebP image's base64 payload, from its data URL or from the bytes its URL is the key of. */
function webpPayload(url: string, blobs: Blobs | undefined): string | undefined {
  if (url.startsWith(WEBP_URL)) return url.slice(WEBP_URL.length);
  const bytes = blobs?.get(url);
  if (!bytes || bytes[0]?.toString("latin1") !== WEBP_URL) return undefined;
  return Buffer.concat(bytes.slice(1)).toString("latin1");
}

/** Whether a message carries a WebP image that must become PNG before it leaves. */
export const hasWebp = (m: UpstreamMessage, blobs?: Blobs) =>
  typeof m.content !== "string" &&
  m.content.some((p) => p.type === "image_url" && webpPayload(p.image_url.url, blobs) !== undefined);

/** sharp (libvips) is loaded on the first WebP, not at start: it adds 23 MB of RSS to every service. */
async function toPng(base64: string): Promise<string> {
  // Outside the try: a sharp that cannot load is the service's failure, not the image's.
  const { default: sharp } = await import("sharp");
  try {
    const png = await sharp(Buffer.from(base64, "base64")).png().toBuffer();
    return png.toString("base64");
  } catch (error) {
    throw new ServiceError(
      422,
      "invalid_image",
      "A WebP image could not be decoded: send a valid WebP, PNG or JPEG",
      {
        cause: error,
      },
    );
  }
}
