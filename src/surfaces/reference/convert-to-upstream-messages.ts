import { randomUUID } from "node:crypto";
import { toDataUrl } from "../../core/chat/image.ts";
import type { Blobs, UpstreamMessage } from "../../upstreams/types.ts";
import type { ChatBody } from "./chat-schemas.ts";
import type { KeptImages } from "./keep-images-as-bytes.ts";

/**
 * Our messages to OpenAI's: images become `image_url` data-URL parts after the text part. An image
 * kept as bytes (`kept`, by "message/image" index) gets a key for a URL, and its bytes go in `blobs`
 * under that key: the chat engine writes them into the upstream body where the key stands.
 */
export function convertToUpstreamMessages(
  messages: ChatBody["messages"],
  kept?: KeptImages,
): { messages: UpstreamMessage[]; blobs?: Blobs } {
  const blobs = kept && new Map<string, readonly Buffer[]>();
  // A random tag: no text a client sends can pass for a key.
  const tag = kept && `\0image:${randomUUID()}:`;
  const converted = messages.map((m, n): UpstreamMessage => {
    if (!m.images?.length) return { role: m.role, content: m.content };
    return {
      role: m.role,
      content: [
        { type: "text", text: m.content },
        ...m.images.map((img, i) => {
          const bytes = kept?.get(`${n}/${i}`);
          let url: string;
          if (bytes && blobs && tag) {
            url = `${tag}${n}/${i}`;
            blobs.set(url, [Buffer.from(`data:${bytes.mime};base64,`), ...bytes.payload]);
          } else {
            url = toDataUrl(img.data_base64, img.mime_type);
          }
          return { type: "image_url" as const, image_url: { url } };
        }),
      ],
    };
  });
  return { messages: converted, ...(blobs?.size && { blobs }) };
}

export const hasImages = (messages: ChatBody["messages"]): boolean =>
  messages.some((m) => (m.images?.length ?? 0) > 0);

export function toSamplingParams(config: ChatBody["config"]) {
  if (!config) return {};
  return {
    ...(config.temperature !== undefined && { temperature: config.temperature }),
    ...(config.maxTokens !== undefined && { max_tokens: config.maxTokens }),
    ...(config.topP !== undefined && { top_p: config.topP }),
    ...(config.presencePenalty !== undefined && { presence_penalty: config.presencePenalty }),
    ...(config.frequencyPenalty !== undefined && { frequency_penalty: config.frequencyPenalty }),
  };
}
