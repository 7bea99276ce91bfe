import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonSkeleton } from "../../http/json-skeleton.ts";
import { acceptImageBytes, checkImage, decodedLength, isBase64, splitDataUrl, toDataUrl } from "./image.ts";

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]).toString("base64");
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1]).toString("base64");
const webp = Buffer.concat([Buffer.from("RIFF"), Buffer.alloc(4), Buffer.from("WEBPVP8 ")]).toString(
  "base64",
);

describe("checkImage", () => {
  it("accepts each supported type when the bytes match", () => {
    expect(checkImage(png, "image/png", 1_000)).toBeUndefined();
    expect(checkImage(jpeg, "image/jpeg", 1_000)).toBeUndefined();
    expect(checkImage(webp, "image/webp", 1_000)).toBeUndefined();
    expect(checkImage(`data:image/png;base64,${png}`, "IMAGE/PNG", 1_000)).toBeUndefined();
  });

  it("names the problem: type, base64, size, lying mime type, prefix mismatch", () => {
    expect(checkImage(png, "image/gif", 1_000)?.kind).toBe("mime");
    expect(checkImage("not base64!", "image/png", 1_000)?.kind).toBe("base64");
    expect(checkImage(`${png.slice(0, -1)}`, "image/png", 1_000)?.kind).toBe("base64");
    expect(checkImage(png, "image/png", 4)).toMatchObject({
      kind: "too_large",
      message: expect.stringContaining("MAX_IMAGE_BYTES"),
    });
    expect(checkImage(png, "image/jpeg", 1_000)).toMatchObject({
      kind: "mismatch",
      message: expect.stringContaining("image/png"),
    });
    expect(checkImage(`data:image/jpeg;base64,${png}`, "image/png", 1_000)?.kind).toBe("mismatch");
    expect(checkImage(Buffer.from("hello world!").toString("base64"), "image/png", 1_000)?.kind).toBe(
      "mismatch",
    );
  });
});

describe("data URLs", () => {
  it("splits and normalises a prefix, so no URL gets two", () => {
    expect(splitDataUrl(`data:image/png;base64,${png}`)).toEqual({ prefixMime: "image/png", payload: png });
    expect(splitDataUrl(png)).toEqual({ prefixMime: undefined, payload: png });
    expect(toDataUrl(`data:image/png;base64,${png}`, "image/png")).toBe(`data:image/png;base64,${png}`);
    expect(toDataUrl(png, "IMAGE/PNG")).toBe(`data:image/png;base64,${png}`);
  });

  it("computes the decoded size from the base64 length", () => {
    for (const n of [1, 2, 3, 4, 5, 100]) {
      expect(decodedLength(Buffer.alloc(n).toString("base64"))).toBe(n);
    }
  });
});

describe("isBase64", () => {
  const regex = (s: string) => s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
  it("agrees with the regular expression it replaced", () => {
    const alphabet = fc.constantFrom(..."AZaz09+/=-_ \n\u00e9\u20ac".split(""));
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 24 }), (s) => {
        expect(isBase64(s)).toBe(regex(s));
      }),
      { numRuns: 2_000 },
    );
    for (const s of ["", "AAAA", "AA==", "AAA=", "A===", "====", "AA=A", "AAAA\n"]) {
      expect(isBase64(s)).toBe(regex(s));
    }
  });
});

describe("acceptImageBytes", () => {
  const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 1, 2, 3]);
  const WEBP = Buffer.concat([Buffer.from("RIFF"), Buffer.from([1, 2, 3, 4]), Buffer.from("WEBPVP8 ")]);

  /** The string in pieces of `size` bytes, as it would sit in a request's chunks. */
  const pieces = (text: string, size: number) => {
    const buf = Buffer.from(text, "latin1");
    const out: Buffer[] = [];
    for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
    return out;
  };

  /** What JsonSkeleton records of the string's bytes, as the reference parser gets it. */
  const factsOf = (text: string) => {
    const body = new JsonSkeleton(0);
    body.write(Buffer.from(JSON.stringify({ a: [text] }), "latin1"));
    const cut = body.cuts[0];
    if (!cut || cut.escaped) return undefined;
    return { lastSymbol: cut.lastSymbol, firstPad: cut.firstPad };
  };

  it("refuses, with or without the lexer's facts, a stray = or symbol next to padding or the prefix", () => {
    const payload = PNG.toString("base64"); // ends in ==
    for (const text of [
      `data:image/png;base64,${payload.slice(0, -3)}===`,
      `data:image/png;base64,${payload.slice(0, -3)}*==`,
      `data:image/png;base64,*${payload.slice(0, -1)}`,
      `data:image/png;base64,=${payload.slice(1)}`,
      `${payload.slice(0, -1)}*`,
    ]) {
      expect(checkImage(text, "image/png", 1000)).toBeDefined();
      expect(acceptImageBytes(pieces(text, 5), "image/png", 1000)).toBeUndefined();
      expect(acceptImageBytes(pieces(text, 5), "image/png", 1000, factsOf(text))).toBeUndefined();
    }
  });

  it("accepts what checkImage accepts and refuses what it refuses, for any image string in any pieces", () => {
    const payload = fc
      .tuple(
        fc.constantFrom(JPEG, PNG, WEBP, Buffer.from("GIF89a........")),
        fc.uint8Array({ maxLength: 300 }),
      )
      .map(([head, rest]) => Buffer.concat([head, rest]).toString("base64"));
    // Inserted or replacing, near the edges (where padding and prefixes are) as often as anywhere.
    const corrupt = fc
      .tuple(
        payload,
        fc.oneof(fc.constantFrom(0, 1, 2, -1, -2, -3, -4), fc.nat()),
        fc.boolean(),
        fc.constantFrom("", "=", "*", " ", "A", "==", "é", ":"),
      )
      .map(([p, at, replace, insert]) => {
        const i = (((at % (p.length + 1)) + p.length + 1) % (p.length + 1)) as number;
        return p.slice(0, i) + insert + p.slice(replace ? i + 1 : i);
      });
    const prefix = fc.constantFrom(
      "",
      "data:image/png;base64,",
      "data:IMAGE/JPEG;base64,",
      "data:image/webp;charset=x;base64,",
      "data:;base64,",
      "data:image/png,",
    );
    const mimeType = fc.constantFrom(undefined, "image/png", "image/jpeg", "IMAGE/WEBP", "image/gif");
    fc.assert(
      fc.property(
        prefix,
        fc.oneof(payload, corrupt),
        mimeType,
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 10, max: 400 }),
        (pre, data, mime, size, max) => {
          const text = pre + data;
          const accepted = acceptImageBytes(pieces(text, size), mime, max);
          expect(accepted !== undefined, text).toBe(checkImage(text, mime, max) === undefined);
          // The same with what a lexer saw of the bytes (as the reference parser calls it).
          expect(acceptImageBytes(pieces(text, size), mime, max, factsOf(text))).toEqual(accepted);
          if (accepted) {
            expect(accepted.mime).toBe((mime ?? pre.slice(5, pre.indexOf(";"))).toLowerCase());
            expect(text.slice(accepted.prefixLength)).toBe(data);
            expect(checkImage(accepted.standIn, mime, max)).toBeUndefined();
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});
