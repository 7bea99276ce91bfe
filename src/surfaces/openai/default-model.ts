import type { Config } from "../../config.ts";
import type { ForwardBody } from "./schemas.ts";

const IMAGE_PARTS = new Set(["image_url", "input_image", "image"]);

const hasImagePart = (content: unknown): boolean =>
  Array.isArray(content) &&
  content.some((part) => IMAGE_PARTS.has((part as { type?: unknown } | null)?.type as string));

/**
 * Whether a request carries images: chat's `image_url` parts, the Responses API's `input_image`,
 * Anthropic's `image` blocks.
 */
export function hasImages(body: ForwardBody): boolean {
  for (const list of [body.messages, body.input]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (hasImagePart((item as { content?: unknown } | null)?.content) || hasImagePart([item])) return true;
    }
  }
  return false;
}

/** The model a request without one goes to: the vision default when it carries images. */
export const defaultModel = (body: ForwardBody, config: Config): string =>
  hasImages(body) ? config.defaultVisionModel : config.defaultRegularModel;
