import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkImage, decodedLength, isBase64, splitDataUrl, toDataUrl } from "./image.ts";

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
