import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { checkImage } from "../../core/chat/image.ts";
import { registerJsonBodyParser } from "../../http/json-body-parser.ts";
import { keepImagesAsBytes, keptImages } from "./keep-images-as-bytes.ts";

const PNG_HEAD = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const png = Buffer.concat([PNG_HEAD, Buffer.alloc(30_000, 0xfc)]).toString("base64");

async function send(body: unknown, raw?: string) {
  const app = Fastify();
  registerJsonBodyParser(app, keepImagesAsBytes(1_000_000));
  app.post("/", async (request) => {
    const kept = keptImages(request);
    return {
      body: request.body,
      kept:
        kept &&
        Object.fromEntries([...kept].map(([k, v]) => [k, [v.mime, Buffer.concat(v.payload).toString()]])),
    };
  });
  const r = await app.inject({
    method: "POST",
    url: "/",
    headers: { "content-type": "application/json" },
    payload: raw ?? JSON.stringify(body),
  });
  return r.json();
}

describe("keepImagesAsBytes", () => {
  it("keeps a long image that checkImage accepts as bytes, and hands the schema a stand-in it accepts alike", async () => {
    const r = await send({
      messages: [
        { role: "user", content: "a", images: [{ data_base64: `data:image/png;base64,${png}` }] },
        {
          role: "user",
          content: "b",
          images: [{ data_base64: "short" }, { data_base64: png, mime_type: "image/png" }],
        },
      ],
    });
    expect(r.kept).toEqual({ "0/0": ["image/png", png], "1/1": ["image/png", png] });
    const [first, second] = r.body.messages;
    expect(first.images[0].data_base64).toBe(`data:image/png;base64,${png.slice(0, 16)}`);
    expect(checkImage(first.images[0].data_base64, undefined, 1_000_000)).toBeUndefined();
    expect(second.images).toEqual([
      { data_base64: "short" },
      { data_base64: png.slice(0, 16), mime_type: "image/png" },
    ]);
  });

  it("puts back as strings what it cannot vouch for: a problem, escapes, long strings elsewhere", async () => {
    const r = await send({
      messages: [{ role: "user", content: png, images: [{ data_base64: png, mime_type: "image/jpeg" }] }],
      other: [png],
    });
    expect(r.kept).toBeUndefined();
    expect(r.body).toEqual({
      messages: [{ role: "user", content: png, images: [{ data_base64: png, mime_type: "image/jpeg" }] }],
      other: [png],
    });
    const escaped = await send(
      undefined,
      JSON.stringify({ messages: [{ images: [{ data_base64: png, mime_type: "image/png" }] }] }).replaceAll(
        "/",
        "\\/",
      ),
    );
    expect(escaped.kept).toBeUndefined();
    expect(escaped.body.messages[0].images[0].data_base64).toBe(png);
  });
});
