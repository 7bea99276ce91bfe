import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { JPEG_TINY, PNG_1x1, postJson, type Stack, startStack, WEBP_TINY } from "../helpers/stack.ts";
import { expectNoLeak, expectNoWarnings, expectValidation, type Json } from "./helpers.ts";

const REGULAR = "qwen/qwen3-4b-2507";
const VISION = "qwen3-vl-4b-instruct";

let stack: Stack;
let small: Stack;

beforeAll(async () => {
  stack = await startStack();
  small = await startStack({ env: { MAX_IMAGE_BYTES: "100" } });
});
beforeEach(() => {
  stack.emu.reset({ preload: [REGULAR, VISION] });
  small.emu.reset({ preload: [REGULAR, VISION] });
});
afterEach(() => expectNoWarnings(stack.emu, small.emu));
afterAll(async () => {
  await stack.close();
  await small.close();
});

const ask = (images: Json[], content = "What is in this image?") => ({
  messages: [{ role: "user", content, images }],
});
const upstreamMessages = (): Json => stack.emu.chats.at(-1)?.body.messages;

/** Sends a WebP to /chat/vision and checks that LM Studio (which rejects WebP) got a PNG of its pixels. */
async function expectWebpSentAsPng(webp: string) {
  stack.emu.reset({ preload: [VISION], rejectWebp: true });
  const r = await postJson(`${stack.url}/chat/vision`, ask([{ data_base64: webp, mime_type: "image/webp" }]));
  expect(r.status).toBe(200);
  const url: string = upstreamMessages()[0].content[1].image_url.url;
  expect(url).toMatch(/^data:image\/png;base64,/);
  const sent = sharp(Buffer.from(url.slice("data:image/png;base64,".length), "base64"));
  expect((await sent.metadata()).format).toBe("png");
  expect(await sent.raw().toBuffer()).toEqual(await sharp(Buffer.from(webp, "base64")).raw().toBuffer());
}

describe("images reach LM Studio as OpenAI content parts", () => {
  it.each([
    ["image/jpeg", JPEG_TINY],
    ["image/png", PNG_1x1],
  ])("%s becomes a text part then an image_url data URL", async (mime, data) => {
    for (const path of ["/chat/vision", "/chat"]) {
      const r = await postJson(`${stack.url}${path}`, ask([{ data_base64: data, mime_type: mime }]));
      expect(r.status).toBe(200);
      expect(r.json.model).toBe(VISION);
      expect(upstreamMessages()).toEqual([
        {
          role: "user",
          content: [
            { type: "text", text: "What is in this image?" },
            { type: "image_url", image_url: { url: `data:${mime};base64,${data}` } },
          ],
        },
      ]);
    }
  });

  it("image/webp reaches LM Studio as a PNG of the same pixels: LM Studio rejects WebP data URLs", async () => {
    await expectWebpSentAsPng(WEBP_TINY);
  });

  it("keeps several images in order, after the text, per message", async () => {
    const r = await postJson(`${stack.url}/chat/vision`, {
      messages: [
        { role: "system", content: "You describe images." },
        {
          role: "user",
          content: "Compare these",
          images: [
            { data_base64: PNG_1x1, mime_type: "image/png" },
            { data_base64: JPEG_TINY, mime_type: "image/jpeg" },
            { data_base64: WEBP_TINY, mime_type: "image/webp" },
          ],
        },
        { role: "assistant", content: "They differ." },
        {
          role: "user",
          content: "And this one?",
          images: [{ data_base64: JPEG_TINY, mime_type: "image/jpeg" }],
        },
      ],
    });
    expect(r.status).toBe(200);
    expect(upstreamMessages()).toEqual([
      { role: "system", content: "You describe images." },
      {
        role: "user",
        content: [
          { type: "text", text: "Compare these" },
          { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1x1}` } },
          { type: "image_url", image_url: { url: `data:image/jpeg;base64,${JPEG_TINY}` } },
          { type: "image_url", image_url: { url: expect.stringMatching(/^data:image\/png;base64,/) } },
        ],
      },
      { role: "assistant", content: "They differ." },
      {
        role: "user",
        content: [
          { type: "text", text: "And this one?" },
          { type: "image_url", image_url: { url: `data:image/jpeg;base64,${JPEG_TINY}` } },
        ],
      },
    ]);
  });

  it("normalises a data: prefix already present in data_base64 (no double prefix)", async () => {
    const r = await postJson(
      `${stack.url}/chat/vision`,
      ask([{ data_base64: `data:image/png;base64,${PNG_1x1}`, mime_type: "image/png" }]),
    );
    expect(r.status).toBe(200);
    const url: string = upstreamMessages()[0].content[1].image_url.url;
    expect(url).toBe(`data:image/png;base64,${PNG_1x1}`);
    expect(url.match(/data:/g)).toHaveLength(1);
  });

  it("accepts the mime type in any case and sends it in lower case", async () => {
    const r = await postJson(
      `${stack.url}/chat/vision`,
      ask([{ data_base64: JPEG_TINY, mime_type: "IMAGE/JPEG" }]),
    );
    expect(r.status).toBe(200);
    expect(upstreamMessages()[0].content[1].image_url.url).toBe(`data:image/jpeg;base64,${JPEG_TINY}`);
  });

  it("an empty images list is a plain text message", async () => {
    const r = await postJson(`${stack.url}/chat`, ask([]));
    expect(r.status).toBe(200);
    expect(stack.emu.chats.at(-1)?.body.model).toBe(REGULAR);
    expect(upstreamMessages()).toEqual([{ role: "user", content: "What is in this image?" }]);
  });
});

describe("bad images are rejected before anything goes upstream", () => {
  const bad: Array<[string, Json, string]> = [
    ["invalid base64", { data_base64: "this is not base64!!", mime_type: "image/png" }, "data_base64"],
    [
      "base64 with a bad length",
      { data_base64: `${PNG_1x1.slice(0, -3)}`, mime_type: "image/png" },
      "data_base64",
    ],
    ["empty data", { data_base64: "", mime_type: "image/png" }, "data_base64"],
    [
      "an unsupported type (gif)",
      { data_base64: "R0lGODlhAQABAAAAACw=", mime_type: "image/gif" },
      "mime_type",
    ],
    ["a non-image type", { data_base64: PNG_1x1, mime_type: "text/plain" }, "mime_type"],
    ["PNG bytes declared as JPEG", { data_base64: PNG_1x1, mime_type: "image/jpeg" }, ""],
    ["JPEG bytes declared as WebP", { data_base64: JPEG_TINY, mime_type: "image/webp" }, ""],
    [
      "text bytes declared as PNG",
      { data_base64: Buffer.from("hello world!").toString("base64"), mime_type: "image/png" },
      "",
    ],
    [
      "a data URL whose type contradicts mime_type",
      { data_base64: `data:image/jpeg;base64,${PNG_1x1}`, mime_type: "image/png" },
      "",
    ],
    ["no mime_type", { data_base64: PNG_1x1 }, "mime_type"],
    ["an unknown field", { data_base64: PNG_1x1, mime_type: "image/png", url: "http://x" }, ""],
  ];
  it.each(bad)("%s: 422 and LM Studio received no chat", async (_name, image, field) => {
    for (const path of ["/chat/vision", "/chat/vision/stream", "/chat", "/chat/stream"]) {
      const r = await postJson(`${stack.url}${path}`, ask([image]));
      const items = expectValidation(r.status, r.json);
      const locs = items.map((d: Json) => d.loc);
      expect(locs.some((l: Json[]) => l.slice(0, 4).join("/") === "body/messages/0/images")).toBe(true);
      if (field) expect(locs).toContainEqual(["body", "messages", 0, "images", 0, field]);
      expectNoLeak(r.text);
    }
    expect(stack.emu.chats).toHaveLength(0);
  });

  it("points at the right image among several", async () => {
    const r = await postJson(`${stack.url}/chat/vision`, {
      messages: [
        { role: "user", content: "one", images: [{ data_base64: PNG_1x1, mime_type: "image/png" }] },
        {
          role: "user",
          content: "two",
          images: [
            { data_base64: JPEG_TINY, mime_type: "image/jpeg" },
            { data_base64: JPEG_TINY, mime_type: "image/gif" },
          ],
        },
      ],
    });
    expectValidation(r.status, r.json, ["body", "messages", 1, "images", 1, "mime_type"]);
    expect(stack.emu.chats).toHaveLength(0);
  });
});

describe("MAX_IMAGE_BYTES", () => {
  const big = Buffer.concat([Buffer.from(PNG_1x1, "base64"), Buffer.alloc(200, 7)]).toString("base64");

  it("an image over the limit gets 413 and nothing goes upstream", async () => {
    for (const path of ["/chat/vision", "/chat/vision/stream", "/chat"]) {
      const r = await postJson(`${small.url}${path}`, ask([{ data_base64: big, mime_type: "image/png" }]));
      expect(r.status).toBe(413);
      expect(JSON.stringify(r.json.detail)).toMatch(/MAX_IMAGE_BYTES|limit/);
      expectNoLeak(r.text);
    }
    expect(small.emu.chats).toHaveLength(0);
  });

  it("an image under the limit passes", async () => {
    const r = await postJson(
      `${small.url}/chat/vision`,
      ask([{ data_base64: PNG_1x1, mime_type: "image/png" }]),
    );
    expect(r.status).toBe(200);
    expect(small.emu.chats).toHaveLength(1);
  });

  it("the same big image is fine under the default limit", async () => {
    const r = await postJson(`${stack.url}/chat/vision`, ask([{ data_base64: big, mime_type: "image/png" }]));
    expect(r.status).toBe(200);
    expect(upstreamMessages()[0].content[1].image_url.url).toBe(`data:image/png;base64,${big}`);
  });
});

describe("a model without vision", () => {
  it("named via /chat model_key with an image: a clear 4xx saying it does not support images", async () => {
    const r = await postJson(`${stack.url}/chat`, {
      model_key: REGULAR,
      ...ask([{ data_base64: PNG_1x1, mime_type: "image/png" }]),
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.json.detail).toMatch(/does not support images/i);
    expect(stack.emu.chats).toHaveLength(1);
    expect(stack.emu.chats[0]?.outcome).toBe("failed");
  });

  it("named via /chat/vision model_key: same clear 4xx", async () => {
    const r = await postJson(`${stack.url}/chat/vision`, {
      model_key: REGULAR,
      ...ask([{ data_base64: JPEG_TINY, mime_type: "image/jpeg" }]),
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.json.detail).toMatch(/does not support images/i);
    expectNoLeak(r.text);
  });
});

describe("images of megabytes stay the bytes they arrived in (src/http/json-skeleton.ts)", () => {
  let png: string;
  let jpeg: string;
  let webp: string;
  beforeAll(async () => {
    // Noise does not compress: each image is hundreds of kilobytes, far over the 16 KiB cut.
    const noise = sharp(randomBytes(256 * 256 * 3), {
      raw: { width: 256, height: 256, channels: 3 },
    });
    png = (await noise.clone().png().toBuffer()).toString("base64");
    jpeg = (await noise.clone().jpeg({ quality: 100 }).toBuffer()).toString("base64");
    webp = (await noise.clone().webp({ lossless: true }).toBuffer()).toString("base64");
    expect(Math.min(png.length, jpeg.length, webp.length)).toBeGreaterThan(64 * 1024);
  });

  it("reach LM Studio byte for byte, in order, with or without a data URL prefix", async () => {
    const r = await postJson(`${stack.url}/chat/vision`, {
      messages: [
        {
          role: "user",
          content: "Compare",
          images: [
            { data_base64: png, mime_type: "image/png" },
            { data_base64: `data:image/JPEG;base64,${jpeg}` },
            { data_base64: PNG_1x1, mime_type: "image/png" },
          ],
        },
      ],
    });
    expect(r.status).toBe(200);
    expect(upstreamMessages()[0].content.slice(1)).toEqual([
      { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
      { type: "image_url", image_url: { url: `data:image/jpeg;base64,${jpeg}` } },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1x1}` } },
    ]);
  });

  it("bodies of megabytes read into reused memory never mix: two at once, then one more, each image reaches LM Studio as sent", async () => {
    // Bodies of 4 MiB or more are read into buffers the service reuses (src/http/body-buffers.ts),
    // and these images stay views of them until the chat ends.
    const images = await Promise.all(
      [1, 2, 3].map(async (seed) => {
        const pixels = Buffer.alloc(1100 * 1100 * 3);
        for (let i = 0; i < pixels.length; i += 3)
          pixels.writeUIntLE((i * 2_654_435_761 + seed * 97) >>> 8, i, 3);
        const image = await sharp(pixels, { raw: { width: 1100, height: 1100, channels: 3 } })
          .png()
          .toBuffer();
        return image.toString("base64");
      }),
    );
    expect(Math.min(...images.map((i) => i.length))).toBeGreaterThan(4 * 1024 * 1024);
    const send = (image: string) =>
      postJson(`${stack.url}/chat/vision`, ask([{ data_base64: image, mime_type: "image/png" }]));
    const answers = await Promise.all([send(images[0] as string), send(images[1] as string)]);
    answers.push(await send(images[2] as string));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const received = stack.emu.chats.map((c) => (c.body as Json).messages[0].content[1].image_url.url);
    expect(received.sort()).toEqual(images.map((i) => `data:image/png;base64,${i}`).sort());
  });

  it("a WebP still reaches LM Studio as a PNG of the same pixels", async () => {
    await expectWebpSentAsPng(webp);
  });

  it("JSON escapes in the base64 (\\/ as some encoders write it) are read as JSON reads them", async () => {
    const body = JSON.stringify(ask([{ data_base64: png, mime_type: "image/png" }])).replaceAll("/", "\\/");
    const r = await fetch(`${stack.url}/chat/vision`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(r.status).toBe(200);
    expect(upstreamMessages()[0].content[1].image_url.url).toBe(`data:image/png;base64,${png}`);
  });

  it("a problem is reported as for a small image: the same status, message and loc", async () => {
    const mismatch = await postJson(
      `${stack.url}/chat/vision`,
      ask([{ data_base64: png, mime_type: "image/jpeg" }]),
    );
    const [detail] = expectValidation(mismatch.status, mismatch.json, [
      "body",
      "messages",
      0,
      "images",
      0,
      "data_base64",
    ]);
    expect(detail.msg).toBe('Image bytes are image/png but mime_type says "image/jpeg"');
    const corrupt = await postJson(
      `${stack.url}/chat/vision`,
      ask([{ data_base64: `${png.slice(0, 40_000)}*${png.slice(40_001)}`, mime_type: "image/png" }]),
    );
    expect(expectValidation(corrupt.status, corrupt.json)[0].msg).toMatch(/not valid base64/);
    const big = await postJson(
      `${small.url}/chat/vision`,
      ask([{ data_base64: png, mime_type: "image/png" }]),
    );
    expect(big.status).toBe(413);
    expect(JSON.stringify(big.json)).toMatch(/MAX_IMAGE_BYTES/);
    const regular = await postJson(
      `${stack.url}/chat/regular`,
      ask([{ data_base64: png, mime_type: "image/png" }]),
    );
    expectValidation(regular.status, regular.json, ["body", "messages", 0, "images"]);
    expect(stack.emu.chats).toHaveLength(0);
  });
});
