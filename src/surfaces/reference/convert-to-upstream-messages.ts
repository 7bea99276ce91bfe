import { toDataUrl } from "../../core/chat/image.ts";
import type { UpstreamMessage } from "../../upstreams/types.ts";
import type { ChatBody } from "./chat-schemas.ts";

/** Our messages to OpenAI's: images become `image_url` data-URL parts after the text part. */
export function convertToUpstreamMessages(messages: ChatBody["messages"]): UpstreamMessage[] {
  return messages.map((m) => {
    if (!m.images?.length) return { role: m.role, content: m.content };
    return {
      role: m.role,
      content: [
        { type: "text", text: m.content },
        ...m.images.map((img) => ({
          type: "image_url" as const,
          image_url: { url: toDataUrl(img.data_base64, img.mime_type) },
        })),
      ],
    };
  });
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
