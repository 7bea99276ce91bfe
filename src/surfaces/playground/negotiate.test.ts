import { describe, expect, it } from "vitest";
import { pickEncoding, wantsHtml } from "./negotiate.ts";

describe("wantsHtml", () => {
  it("is true for a browser's navigation", () => {
    expect(
      wantsHtml("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
    ).toBe(true);
    expect(wantsHtml("text/html")).toBe(true);
  });

  it("is false for API clients: JSON, curl's */*, nothing", () => {
    expect(wantsHtml("application/json")).toBe(false);
    expect(wantsHtml("*/*")).toBe(false);
    expect(wantsHtml(undefined)).toBe(false);
    expect(wantsHtml("")).toBe(false);
    expect(wantsHtml("text/*")).toBe(false);
  });

  it("weighs text/html against JSON", () => {
    expect(wantsHtml("application/json, text/html;q=0.5")).toBe(false);
    expect(wantsHtml("application/json;q=0.5, text/html")).toBe(true);
    expect(wantsHtml("text/html;q=0")).toBe(false);
    expect(wantsHtml("TEXT/HTML ; Q=0.9")).toBe(true);
  });
});

describe("pickEncoding", () => {
  it("prefers brotli, then gzip", () => {
    expect(pickEncoding("gzip, deflate, br, zstd")).toBe("br");
    expect(pickEncoding("gzip, deflate")).toBe("gzip");
    expect(pickEncoding("*")).toBe("br");
  });

  it("honours q=0 and falls back to identity", () => {
    expect(pickEncoding("br;q=0, gzip")).toBe("gzip");
    expect(pickEncoding("*;q=0")).toBe("identity");
    expect(pickEncoding(undefined)).toBe("identity");
    expect(pickEncoding("identity")).toBe("identity");
    expect(pickEncoding("deflate")).toBe("identity");
  });
});
