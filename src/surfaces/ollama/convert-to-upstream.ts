import { decodedLength, sniffImageMime, splitDataUrl } from "../../core/chat/image.ts";
import { ServiceError } from "../../errors.ts";
import type {
  ResponseFormat,
  SamplingParams,
  UpstreamContentPart,
  UpstreamMessage,
  UpstreamToolCall,
} from "../../upstreams/types.ts";
import type { GenerateRequestBody, OllamaMessage, OllamaOptions } from "./schemas.ts";

/** A client error in Ollama's terms: 400 and a message that names the field. */
export const badRequest = (message: string, status = 400) =>
  new ServiceError(status, "invalid_request", message);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * One Ollama image (raw base64, as Ollama takes them; a data URL is accepted too) as a data URL,
 * its type read from its bytes, since Ollama's images carry none.
 */
export function toImageUrl(image: string, where: string, maxBytes: number): string {
  const { payload } = splitDataUrl(image);
  if (payload.length === 0) throw badRequest(`${where} is empty: send the image's bytes as base64`);
  if (payload.length % 4 !== 0 || !BASE64.test(payload)) {
    throw badRequest(`${where} is not valid base64 (standard alphabet, padded, no whitespace)`);
  }
  const size = decodedLength(payload);
  if (size > maxBytes) {
    throw badRequest(`${where} is ${size} bytes; the limit is ${maxBytes} bytes (MAX_IMAGE_BYTES)`, 413);
  }
  const mime = sniffImageMime(payload);
  if (!mime) throw badRequest(`${where} is not a JPEG, PNG or WebP image`);
  return `data:${mime};base64,${payload}`;
}

function content(text: string, images: string[], where: string, maxBytes: number) {
  if (images.length === 0) return text;
  const parts: UpstreamContentPart[] = [{ type: "text", text }];
  images.forEach((img, i) => {
    const at = where ? `${where}.images[${i}]` : `images[${i}]`;
    parts.push({ type: "image_url", image_url: { url: toImageUrl(img, at, maxBytes) } });
  });
  return parts;
}

/**
 * Ollama's messages as OpenAI's. Ollama's tool calls have no ids and its tool results name the
 * function (`tool_name`), so ids are made up here and each result answers the earliest open call
 * of its function (else the earliest open one), which is how Ollama pairs them too: in order.
 */
export function toUpstreamMessages(messages: OllamaMessage[], maxImageBytes: number): UpstreamMessage[] {
  const open: Array<{ id: string; name: string }> = [];
  let next = 0;
  return messages.map((m, i) => {
    const where = `messages[${i}]`;
    if (m.role === "assistant" && m.tool_calls?.length) {
      const calls: UpstreamToolCall[] = m.tool_calls.map((c) => {
        const id = c.id ?? `call_${next++}`;
        open.push({ id, name: c.function.name });
        return {
          id,
          type: "function",
          function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) },
        };
      });
      return { role: "assistant", content: m.content, tool_calls: calls };
    }
    if (m.role === "tool") {
      const byId = m.tool_call_id ? open.findIndex((c) => c.id === m.tool_call_id) : -1;
      const byName = open.findIndex((c) => c.name === m.tool_name);
      // By id, else by function name, else the earliest open call.
      const at = byId >= 0 ? byId : Math.max(byName, 0);
      const call = open.splice(at, 1)[0];
      return {
        role: "tool",
        content: m.content,
        tool_call_id: call?.id ?? m.tool_call_id ?? `call_${next++}`,
      };
    }
    return { role: m.role, content: content(m.content, m.images ?? [], where, maxImageBytes) };
  });
}

/** /api/generate's prompt (and system prompt, images) as a chat: LM Studio applies the model's template. */
export function generateToMessages(body: GenerateRequestBody, maxImageBytes: number): UpstreamMessage[] {
  if (body.template) {
    throw badRequest(
      "template is not supported: LM Studio applies the model's own prompt template (send the prompt without it)",
    );
  }
  if (body.raw) {
    throw badRequest(
      "raw is not supported: LM Studio always applies the model's prompt template (send raw: false, and the prompt without template tokens)",
    );
  }
  if (body.suffix) {
    throw badRequest("suffix (fill-in-the-middle) is not supported by LM Studio's API: leave it out");
  }
  const messages: UpstreamMessage[] = [];
  if (body.system) messages.push({ role: "system", content: body.system });
  messages.push({
    role: "user",
    content: content(body.prompt ?? "", body.images ?? [], "", maxImageBytes),
  });
  return messages;
}

/** Ollama's options as OpenAI's sampling fields (LM Studio reads top_k, min_p, repeat_penalty too). */
export function toSamplingParams(options: OllamaOptions | undefined): SamplingParams {
  if (!options) return {};
  const o = options;
  return {
    ...(o.temperature !== undefined && { temperature: o.temperature }),
    ...(o.top_p !== undefined && { top_p: o.top_p }),
    ...(o.top_k !== undefined && { top_k: o.top_k }),
    ...(o.min_p !== undefined && { min_p: o.min_p }),
    ...(o.repeat_penalty !== undefined && { repeat_penalty: o.repeat_penalty }),
    ...(o.presence_penalty !== undefined && { presence_penalty: o.presence_penalty }),
    ...(o.frequency_penalty !== undefined && { frequency_penalty: o.frequency_penalty }),
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.stop?.length && { stop: o.stop }),
    // -1 (until done) and -2 (fill the context) are OpenAI's default: no limit.
    ...(o.num_predict !== undefined && o.num_predict > 0 && { max_tokens: o.num_predict }),
  };
}

/**
 * `format` as OpenAI's response_format. LM Studio takes only json_schema (not json_object), so
 * "json" becomes the schema of any JSON object.
 */
export function toResponseFormat(
  format: string | Record<string, unknown> | undefined,
): ResponseFormat | undefined {
  if (format === undefined || format === "") return undefined;
  if (format === "json") {
    return { type: "json_schema", json_schema: { name: "json", schema: { type: "object" } } };
  }
  if (typeof format === "string") throw badRequest('format must be "json" or a JSON schema object');
  return { type: "json_schema", json_schema: { name: "response", schema: format, strict: true } };
}

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/**
 * keep_alive in seconds, as Ollama reads it: a number is seconds, a string a Go duration; 0
 * unloads after the answer, a negative value keeps the model loaded (Infinity here).
 */
export function keepAliveSeconds(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  let seconds: number;
  if (typeof value === "number") seconds = value;
  else {
    const negative = value.startsWith("-");
    seconds = 0;
    for (const m of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
      seconds += Number(m[1]) * (UNIT_SECONDS[m[2] as string] ?? 0);
    }
    if (negative) seconds = -seconds;
  }
  if (seconds < 0) return Number.POSITIVE_INFINITY;
  if (!Number.isFinite(seconds)) return Number.POSITIVE_INFINITY;
  // LM Studio's TTL is whole seconds; a sub-second keep_alive still keeps it a moment.
  return seconds === 0 ? 0 : Math.max(1, Math.round(seconds));
}

/** The TTL a load caused by this request gets: none when kept forever or unloaded right after. */
export function loadTtlSeconds(keepAlive: number | undefined): number | undefined {
  if (keepAlive === undefined) return undefined;
  return keepAlive === 0 || keepAlive === Number.POSITIVE_INFINITY ? -1 : keepAlive;
}
