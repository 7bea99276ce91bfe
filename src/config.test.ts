import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, readEnv } from "./config.ts";

describe("configuration", () => {
  it("has the reference's defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      openaiBaseUrl: "http://localhost:1234/v1",
      openaiApiKey: "lm-studio",
      lmstudioBaseUrl: "ws://localhost:1234",
      host: "127.0.0.1",
      port: 8000,
      corsOrigins: ["*"],
      defaultRegularModel: "qwen/qwen3-4b-2507",
      defaultVisionModel: "qwen3-vl-4b-instruct",
      maxImageBytes: 20 * 1024 * 1024,
      autoLoad: true,
      apiKeys: [],
    });
  });

  it("derives the SDK websocket URL from OPENAI_BASE_URL, unless given", () => {
    expect(loadConfig({ OPENAI_BASE_URL: "https://box:4321/v1/" }).lmstudioBaseUrl).toBe("wss://box:4321");
    expect(loadConfig({ LMSTUDIO_BASE_URL: "ws://other:1/" }).lmstudioBaseUrl).toBe("ws://other:1");
  });

  it("reads MODEL_ALIASES as alias=model pairs, and names a malformed one", () => {
    expect(
      loadConfig({ MODEL_ALIASES: "gpt-4o-mini=qwen/qwen3-4b-2507, llama3.2:3b = google/gemma-3-1b" })
        .modelAliases,
    ).toEqual(
      new Map([
        ["gpt-4o-mini", "qwen/qwen3-4b-2507"],
        ["llama3.2:3b", "google/gemma-3-1b"],
      ]),
    );
    expect(() => loadConfig({ MODEL_ALIASES: "gpt-4o-mini" })).toThrow(
      /MODEL_ALIASES="gpt-4o-mini": "gpt-4o-mini" is not alias=model/,
    );
  });

  it("derives MAX_BODY_BYTES from MAX_IMAGE_BYTES: one image as base64 plus 1 MiB", () => {
    expect(loadConfig({ MAX_IMAGE_BYTES: "3000000" }).maxBodyBytes).toBe(4_000_000 + 1024 * 1024);
    expect(loadConfig({ MAX_IMAGE_BYTES: "3000000", MAX_BODY_BYTES: "5000" }).maxBodyBytes).toBe(5000);
  });

  it("names every bad variable", () => {
    try {
      loadConfig({ PORT: "abc", OPENAI_BASE_URL: "localhost:1234", AUTO_LOAD: "maybe" });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems.join("\n");
      expect(problems).toContain('PORT="abc"');
      expect(problems).toContain('OPENAI_BASE_URL="localhost:1234"');
      expect(problems).toContain('AUTO_LOAD="maybe"');
    }
  });

  it("observability: JSON logs and metrics on, for keyed clients only, unless told otherwise", () => {
    expect(loadConfig({})).toMatchObject({ logFormat: "json", metricsEnabled: true, metricsPublic: false });
    expect(
      loadConfig({ LOG_FORMAT: "pretty", METRICS_ENABLED: "false", METRICS_PUBLIC: "true" }),
    ).toMatchObject({ logFormat: "pretty", metricsEnabled: false, metricsPublic: true });
    expect(() => loadConfig({ LOG_FORMAT: "text" })).toThrow(/LOG_FORMAT="text": must be "json" or "pretty"/);
  });

  it("reads .env under the environment, which wins", () => {
    const dir = mkdtempSync(join(tmpdir(), "lmss-"));
    const file = join(dir, ".env");
    writeFileSync(file, "PORT=9001\nHOST=0.0.0.0\nCORS_ORIGINS=http://a, http://b\n");
    const c = loadConfig(readEnv(file, { HOST: "127.0.0.2" }));
    expect(c.port).toBe(9001);
    expect(c.host).toBe("127.0.0.2");
    expect(c.corsOrigins).toEqual(["http://a", "http://b"]);
  });
});
