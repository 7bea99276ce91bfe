import type { FastifyRequest } from "fastify";
import { slicePieces } from "../../byte-pieces.ts";
import { acceptImageBytes, type ImageMimeType } from "../../core/chat/image.ts";
import type { KeepAsBytes } from "../../http/json-body-parser.ts";

/** An image of the request kept as the bytes it arrived in: its type and its base64 payload. */
export interface KeptImage {
  mime: ImageMimeType;
  payload: Buffer[];
}

/** By "message index/image index". */
export type KeptImages = ReadonlyMap<string, KeptImage>;

const kept = new WeakMap<FastifyRequest, KeptImages>();

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";

/**
 * The chat routes' say in a parsed body: each long `messages[n].images[i].data_base64` whose bytes
 * checkImage would accept stays bytes (checked here by byte loops), and the schema sees a short
 * stand-in that checkImage accepts alike: its data URL prefix and first 16 base64 characters (the
 * magic number). An image with any problem is put back as a string, so that the schema reports
 * the problem as it always does.
 */
export function keepImagesAsBytes(maxImageBytes: number): KeepAsBytes {
  return (value, strings, request) => {
    const messages = isRecord(value) ? value.messages : undefined;
    if (!Array.isArray(messages)) return;
    const images = new Map<string, KeptImage>();
    messages.forEach((message, n) => {
      const list = isRecord(message) ? message.images : undefined;
      if (!Array.isArray(list)) return;
      list.forEach((image, i) => {
        if (!isRecord(image)) return;
        const k = strings.indexOf(image.data_base64);
        if (k === undefined || strings.escaped(k)) return;
        const mimeType = image.mime_type;
        if (mimeType !== undefined && typeof mimeType !== "string") return;
        const pieces = strings.pieces(k);
        const accepted = acceptImageBytes(pieces, mimeType, maxImageBytes, strings.base64Facts(k));
        if (!accepted) return;
        image.data_base64 = accepted.standIn;
        images.set(`${n}/${i}`, { mime: accepted.mime, payload: slicePieces(pieces, accepted.prefixLength) });
      });
    });
    if (images.size > 0) kept.set(request, images);
  };
}

/** The images of a request that stayed bytes. */
export const keptImages = (request: FastifyRequest): KeptImages | undefined => kept.get(request);
