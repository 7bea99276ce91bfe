import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, readEnv } from "../../src/config.ts";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { postJson, startStack } from "../helpers/stack.ts";
import { getJson } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "lmstudio-service-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe("loadConfig defaults (the reference's .env)", () => {
  it("matches the reference's default configuration", () => {
    const c = loadConfig({});
    expect(c.openaiBaseUrl).toBe("http://localhost:1234/v1");
    expect(c.openaiApiKey).toBe("lm-studio");
    expect(c.host).toBe("127.0.0.1");
    expect(c.port).toBe(8000);
    expect(c.corsOrigins).toEqual(["*"]);
    expect(c.defaultRegularModel).toBe("qwen/qwen3-4b-2507");
    expect(c.defaultVisionModel).toBe("qwen3-vl-4b-instruct");
    expect(c.maxImageBytes).toBe(20 * 1024 * 1024);
    expect(c.logLevel).toBe("info");
  });

  it("derives LMSTUDIO_BASE_URL from OPENAI_BASE_URL's host and port", () => {
    expect(loadConfig({}).lmstudioBaseUrl).toBe("ws://localhost:1234");
    expect(loadConfig({ OPENAI_BASE_URL: "http://10.0.0.5:4321/v1" }).lmstudioBaseUrl).toBe(
      "ws://10.0.0.5:4321",
    );
    expect(loadConfig({ OPENAI_BASE_URL: "https://lm.example.com/v1" }).lmstudioBaseUrl).toBe(
      "wss://lm.example.com",
    );
    expect(
      loadConfig({ OPENAI_BASE_URL: "http://a:1/v1", LMSTUDIO_BASE_URL: "ws://b:2" }).lmstudioBaseUrl,
    ).toBe("ws://b:2");
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
    const e = configError({ PORT: "abc", LOG_LEVEL: "loud", OPENAI_BASE_URL: "nope" });
    expect(e.problems).toHaveLength(3);
    const text = e.message;
    expect(text).toContain('PORT="abc"');
    expect(text).toContain('LOG_LEVEL="loud"');
    expect(text).toContain('OPENAI_BASE_URL="nope"');
    expect(text).toMatch(/^Invalid configuration/);
  });
});

describe(".env", () => {
  it("is read, and the environment overrides it", () => {
    const file = join(dir, "a.env");
    writeFileSync(
      file,
      [
        "# comment",
        "OPENAI_BASE_URL=http://from-file:1111/v1",
        "PORT=8123",
        'DEFAULT_REGULAR_MODEL="file-model"',
        "DEFAULT_VISION_MODEL=file-vlm",
        "",
      ].join("\n"),
    );
    const env = readEnv(file, { PORT: "9001", DEFAULT_VISION_MODEL: "env-vlm", UNRELATED: "x" });
    expect(env).toMatchObject({
      OPENAI_BASE_URL: "http://from-file:1111/v1",
      PORT: "9001",
      DEFAULT_REGULAR_MODEL: "file-model",
      DEFAULT_VISION_MODEL: "env-vlm",
    });
    const c = loadConfig(env);
    expect(c).toMatchObject({
      openaiBaseUrl: "http://from-file:1111/v1",
      lmstudioBaseUrl: "ws://from-file:1111",
      port: 9001,
      defaultRegularModel: "file-model",
      defaultVisionModel: "env-vlm",
    });
  });

  it("an empty environment value does not hide the file's", () => {
    const file = join(dir, "b.env");
    writeFileSync(file, "PORT=8124\n");
    expect(loadConfig(readEnv(file, { PORT: "" })).port).toBe(8124);
  });

  it("a missing .env is fine", () => {
    expect(readEnv(join(dir, "missing.env"), { PORT: "8125" })).toEqual({ PORT: "8125" });
  });

  it("a bad value in .env is reported like one in the environment", () => {
    const file = join(dir, "c.env");
    writeFileSync(file, "PORT=abc\n");
    const e = configError(readEnv(file, {}));
    expect(e.problems[0]).toContain('PORT="abc"');
  });
});

describe("configuration reaches the running service", () => {
  it("CORS_ORIGINS, default models and OPENAI_API_KEY", async () => {
    const emu = await LmStudioEmulator.start({ preload: ["google/gemma-3-1b"] });
    const stack = await startStack({
      emu,
      env: {
        CORS_ORIGINS: "http://app.example",
        DEFAULT_REGULAR_MODEL: "google/gemma-3-1b",
        OPENAI_API_KEY: "my-key",
      },
    });
    try {
      const allowed = await getJson(`${stack.url}/health`, { origin: "http://app.example" });
      expect(allowed.headers.get("access-control-allow-origin")).toBe("http://app.example");
      const other = await getJson(`${stack.url}/health`, { origin: "http://evil.example" });
      expect(other.headers.get("access-control-allow-origin")).not.toBe("http://evil.example");
      expect(other.headers.get("access-control-allow-origin")).not.toBe("*");

      const r = await postJson(`${stack.url}/chat/regular`, { messages: [{ role: "user", content: "hi" }] });
      expect(r.status).toBe(200);
      expect(emu.chats.at(-1)?.body.model).toBe("google/gemma-3-1b");
      expect(emu.chats.at(-1)?.authorization).toBe("Bearer my-key");
      expect(emu.warnings).toEqual([]);
    } finally {
      await stack.close();
      await emu.stop();
    }
  });

  it('CORS_ORIGINS="*" allows any origin', async () => {
    const stack = await startStack();
    try {
      const r = await getJson(`${stack.url}/health`, { origin: "http://anything.example" });
      expect(r.headers.get("access-control-allow-origin")).toBe("*");
      expect(stack.emu.warnings).toEqual([]);
    } finally {
      await stack.close();
    }
  });
});
