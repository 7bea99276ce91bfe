import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, readEnv } from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "lmstudio-service-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A .env file with these lines, in a fresh temp directory. */
function envFile(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  it("has the reference's defaults", () => {
    expect(loadConfig({})).toMatchObject({
      openaiBaseUrl: "http://localhost:1234/v1",
      openaiApiKey: "lm-studio",
      lmstudioBaseUrl: "ws://localhost:1234",
      host: "127.0.0.1",
      port: 8000,
      corsOrigins: ["*"],
      defaultRegularModel: "qwen/qwen3-4b-2507",
      defaultVisionModel: "qwen3-vl-4b-instruct",
      maxImageBytes: 20 * 1024 * 1024,
      logLevel: "info",
      autoLoad: true,
      apiKeys: [],
    });
  });

  it("derives the SDK websocket URL from OPENAI_BASE_URL's host and port, unless given", () => {
    const ws = (env: Record<string, string>) => loadConfig(env).lmstudioBaseUrl;
    expect(ws({ OPENAI_BASE_URL: "http://10.0.0.5:4321/v1" })).toBe("ws://10.0.0.5:4321");
    expect(ws({ OPENAI_BASE_URL: "https://box:4321/v1/" })).toBe("wss://box:4321");
    expect(ws({ OPENAI_BASE_URL: "https://lm.example.com/v1" })).toBe("wss://lm.example.com");
    expect(ws({ OPENAI_BASE_URL: "http://a:1/v1", LMSTUDIO_BASE_URL: "ws://b:2" })).toBe("ws://b:2");
    expect(ws({ LMSTUDIO_BASE_URL: "ws://other:1/" })).toBe("ws://other:1");
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

  it("checks LMSTUDIO_API_TOKEN's form at start-up, instead of letting the SDK throw later", () => {
    expect(loadConfig({ LMSTUDIO_API_TOKEN: "sk-lm-abcd1234:abcdefghij0123456789" }).lmstudioApiToken).toBe(
      "sk-lm-abcd1234:abcdefghij0123456789",
    );
    expect(() => loadConfig({ LMSTUDIO_API_TOKEN: "lm-studio" })).toThrow(
      /LMSTUDIO_API_TOKEN="lm-studio": must be an LM Studio API token, sk-lm-/,
    );
  });

  it("reads every variable", () => {
    const c = loadConfig({
      OPENAI_BASE_URL: "http://lm:9999/v1/",
      OPENAI_API_KEY: "secret",
      HOST: "0.0.0.0",
      PORT: "9000",
      CORS_ORIGINS: "http://a.example, http://b.example",
      DEFAULT_REGULAR_MODEL: "r",
      DEFAULT_VISION_MODEL: "v",
      MAX_IMAGE_BYTES: "1234",
      LOG_LEVEL: "warn",
    });
    expect(c).toMatchObject({
      openaiBaseUrl: "http://lm:9999/v1",
      openaiApiKey: "secret",
      host: "0.0.0.0",
      port: 9000,
      corsOrigins: ["http://a.example", "http://b.example"],
      defaultRegularModel: "r",
      defaultVisionModel: "v",
      maxImageBytes: 1234,
      logLevel: "warn",
    });
  });

  it("observability: JSON logs and metrics on, for keyed clients only, unless told otherwise", () => {
    expect(loadConfig({})).toMatchObject({ logFormat: "json", metricsEnabled: true, metricsPublic: false });
    expect(
      loadConfig({ LOG_FORMAT: "pretty", METRICS_ENABLED: "false", METRICS_PUBLIC: "true" }),
    ).toMatchObject({ logFormat: "pretty", metricsEnabled: false, metricsPublic: true });
    expect(() => loadConfig({ LOG_FORMAT: "text" })).toThrow(/LOG_FORMAT="text": must be "json" or "pretty"/);
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ PORT: "", HOST: "" })).toMatchObject({ port: 8000, host: "127.0.0.1" });
  });
});

describe("a clear error per bad variable", () => {
  it.each([
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "80.5"],
    ["OPENAI_BASE_URL", "not a url"],
    ["OPENAI_BASE_URL", "localhost:1234"],
    ["OPENAI_BASE_URL", "ftp://x/v1"],
    ["LMSTUDIO_BASE_URL", "http://localhost:1234"],
    ["MAX_IMAGE_BYTES", "0"],
    ["MAX_IMAGE_BYTES", "lots"],
    ["LOG_LEVEL", "loud"],
    ["AUTO_LOAD", "maybe"],
  ])("%s=%s", (key, value) => {
    const e = configError({ [key]: value });
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]).toContain(`${key}=${JSON.stringify(value)}`);
    expect(e.problems[0]).toMatch(/: \S/);
    expect(e.message).toContain(`${key}=`);
  });

  it("lists every bad variable at once", () => {
    const e = configError({ PORT: "abc", LOG_LEVEL: "loud", OPENAI_BASE_URL: "nope", AUTO_LOAD: "maybe" });
    expect(e.problems).toHaveLength(4);
    expect(e.message).toMatch(/^Invalid configuration/);
    for (const named of ['PORT="abc"', 'LOG_LEVEL="loud"', 'OPENAI_BASE_URL="nope"', 'AUTO_LOAD="maybe"'])
      expect(e.message).toContain(named);
  });
});

describe(".env", () => {
  it("is read, comments and quotes included, and the environment overrides it", () => {
    const file = envFile("a.env", [
      "# comment",
      "OPENAI_BASE_URL=http://from-file:1111/v1",
      "PORT=8123",
      'DEFAULT_REGULAR_MODEL="file-model"',
      "DEFAULT_VISION_MODEL=file-vlm",
      "CORS_ORIGINS=http://a, http://b",
    ]);
    const env = readEnv(file, { PORT: "9001", DEFAULT_VISION_MODEL: "env-vlm", UNRELATED: "x" });
    expect(env).toMatchObject({
      OPENAI_BASE_URL: "http://from-file:1111/v1",
      PORT: "9001",
      DEFAULT_REGULAR_MODEL: "file-model",
      DEFAULT_VISION_MODEL: "env-vlm",
    });
    expect(loadConfig(env)).toMatchObject({
      openaiBaseUrl: "http://from-file:1111/v1",
      lmstudioBaseUrl: "ws://from-file:1111",
      port: 9001,
      defaultRegularModel: "file-model",
      defaultVisionModel: "env-vlm",
      corsOrigins: ["http://a", "http://b"],
    });
  });

  it("an empty environment value does not hide the file's", () => {
    const file = envFile("b.env", ["PORT=8124"]);
    expect(loadConfig(readEnv(file, { PORT: "" })).port).toBe(8124);
  });

  it("a missing .env is fine", () => {
    expect(readEnv(join(dir, "missing.env"), { PORT: "8125" })).toEqual({ PORT: "8125" });
  });

  it("a bad value in .env is reported like one in the environment", () => {
    const file = envFile("c.env", ["PORT=abc"]);
    const e = configError(readEnv(file, {}));
    expect(e.problems[0]).toContain('PORT="abc"');
  });
});
