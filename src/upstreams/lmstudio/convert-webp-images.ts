// upstreams/lmstudio: LM Studio as an upstream (SDK for models, HTTP for chats, its error texts).
import sharp from "sharp";
import { ServiceError } from "../../errors.ts";
import type { UpstreamMessage } from "../types.ts";

const WEBP_URL = "data:image/webp;base64,";

/**
 * LM Studio rejects WebP data URLs ("'url' field must be a base64 encoded image", reported from
 * 0.3.27 through 0.4.9: lmstudio-bug-tracker #1027, #1752), while the reference API accepts WebP.
 * So WebP images become PNG (lossless) before they leave; other messages pass untouched, as the
 * same objects.
 */
export async function convertWebpImages(messages: UpstreamMessage[]): Promise<UpstreamMessage[]> {
  if (!messages.some(hasWebp)) return messages;
  return Promise.all(
    messages.map(async (m) => {
      if (!hasWebp(m) || typeof m.content === "string") return m;
      const content = await Promise.all(
        m.content.map(async (part) => {
          if (part.type !== "image_url" || !part.image_url.url.startsWith(WEBP_URL)) return part;
          const png = await toPng(part.image_url.url.slice(WEBP_URL.length));
          return { type: "image_url" as const, image_url: { url: `data:image/png;base64,${png}` } };
        }),
      );
      return { ...m, content };
    }),
  );
}

/** Whether a message carries a WebP image that must become PNG before it leaves. */
export const hasWebp = (m: UpstreamMessage) =>
  typeof m.content !== "string" &&
  m.content.some((p) => p.type === "image_url" && p.image_url.url.startsWith(WEBP_URL));

async function toPng(base64: string): Promise<string> {
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
