/**
 * What a real LM Studio does that a tidy one would not: answer a wrong path with 200, ask for a
 * token, refuse a taken identifier with its own words, end a stream early.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak } from "../api/helpers.ts";
import { DEFAULT_CATALOGUE, LmStudioEmulator } from "../emulator/emulator.ts";
import { postJson, postNdjson, type Stack, startStack } from "../helpers/stack.ts";

const MODEL = "qwen/qwen3-4b-2507";
const TOKEN = "sk-lm-abcd1234:abcdefghij0123456789";
const hi = { model_key: MODEL, messages: [{ role: "user", content: "hi" }] };

describe("OPENAI_BASE_URL without /v1 (LM Studio answers unknown paths with 200)", () => {
  let stack: Stack;
  beforeAll(async () => {
    const emu = await LmStudioEmulator.start({ preload: [MODEL] });
    stack = await startStack({ emu, env: { OPENAI_BASE_URL: emu.openaiBaseUrl.replace(/\/v1$/, "") } });
  });
  afterAll(async () => {
    await stack.close();
    await stack.emu.stop();
  });

  it("a chat is a 502 naming OPENAI_BASE_URL, never an empty success", async () => {
    for (const path of ["/chat", "/chat/stream"]) {
      const r = await postJson(`${stack.url}${path}`, hi);
      expect(r.status).toBe(502);
      expect(r.json.code).toBe("upstream_error");
      expect(r.json.detail).toMatch(
        /OPENAI_BASE_URL \(http:\/\/127\.0\.0\.1:\d+\) is probably wrong \(it usually ends in \/v1\)/,
      );
    }
  });

  it("npm start warns about it at start-up", async () => {
    const child = spawn(process.execPath, ["src/main.ts"], {
      env: { ...process.env, OPENAI_BASE_URL: stack.emu.openaiBaseUrl.replace(/\/v1$/, ""), PORT: "0" },
      stdio: ["ignore", "pipe", "ignore"],
    });
    try {
      const lines = createInterface({ input: child.stdout });
      let warning: string | undefined;
      for await (const line of lines) {
        if (line.includes("does not look like LM Studio's OpenAI-compatible API")) {
          warning = line;
          break;
        }
      }
      expect(JSON.parse(warning ?? "{}")).toMatchObject({ level: 40 });
      expect(warning).toContain("It usually ends in /v1");
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("a stream that ends without finishing", () => {
  let stack: Stack;
  let server: ReturnType<typeof createServer>;
  beforeAll(async () => {
    // An upstream that cuts the answer short: one chunk, no finish_reason, no [DONE], then a clean end.
    server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: "Hel" } }] })}\n\n`);
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as { port: number }).port;
    stack = await startStack({
      env: { UPSTREAM_KIND: "openai", OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, AUTO_LOAD: "false" },
    });
  });
  afterAll(async () => {
    await stack.close();
    server.close();
  });

  it("is a 502, or an error line once the stream started: never a short success", async () => {
    const json = await postJson(`${stack.url}/chat`, hi);
    expect(json.status).toBe(502);
    expect(json.json.detail).toMatch(/ended the answer before it was finished/);
    const stream = await postNdjson(`${stack.url}/chat/stream`, hi);
    expect(stream.lines.at(-1)).toMatchObject({ type: "error", error: { code: "upstream_error" } });
    expect(stream.lines.some((l) => l.type === "done")).toBe(false);
  });
});

describe("LM Studio 0.4 asking for an API token", () => {
  let emu: LmStudioEmulator;
  beforeAll(async () => {
    emu = await LmStudioEmulator.start({ preload: [MODEL], requireToken: TOKEN });
  });
  afterAll(async () => {
    await emu.stop();
  });

  it("a wrong or missing token: 502 naming both token variables, over HTTP and over the SDK", async () => {
    const stack = await startStack({ emu });
    try {
      const chat = await postJson(`${stack.url}/chat`, hi);
      expect(chat.status).toBe(502);
      expect(chat.json.code).toBe("upstream_auth_failed");
      expect(chat.json.detail).toMatch(/^LM Studio refused our credentials: set /);
      expect(chat.json.detail).toContain("OPENAI_API_KEY");
      expect(chat.json.detail).toContain("LMSTUDIO_API_TOKEN");
      const models = await postJson(`${stack.url}/models/load`, { model_key: MODEL });
      expect(models.status).toBe(502);
      expect(models.json.code).toBe("upstream_auth_failed");
      expect(models.json.error).toContain("LMSTUDIO_API_TOKEN");
      expect(models.json.error).toContain("OPENAI_API_KEY");
      expectNoLeak(chat.text + models.text);
    } finally {
      await stack.close();
    }
  });

  it("the token in both settings: models and chats work", async () => {
    const stack = await startStack({ emu, env: { OPENAI_API_KEY: TOKEN, LMSTUDIO_API_TOKEN: TOKEN } });
    try {
      expect((await postJson(`${stack.url}/models/load`, { model_key: MODEL })).json).toMatchObject({
        loaded: true,
      });
      expect((await postJson(`${stack.url}/chat`, hi)).status).toBe(200);
    } finally {
      await stack.close();
    }
  });
});

describe("LM Studio's own words for a taken identifier", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ emulator: { preload: [{ modelKey: MODEL, identifier: "mine" }] } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it("'already exists' is a 409 that says to pick another identifier", async () => {
    const r = await postJson(`${stack.url}/models/load`, {
      model_key: "google/gemma-3-1b",
      identifier: "mine",
    });
    expect(r.status).toBe(409);
    expect(r.json).toMatchObject({ loaded: false, code: "identifier_taken" });
    expect(r.json.error).toMatch(/already taken .*pick another identifier/);
  });
});

describe("LM Link: models on another device (LM Studio 0.4)", () => {
  it("show their device in /models and /models/available (read with the SDK a token selects)", async () => {
    const emu = await LmStudioEmulator.start({
      requireToken: TOKEN,
      models: [...DEFAULT_CATALOGUE, { modelKey: "remote/big-model", deviceIdentifier: "gpu-box" }],
      preload: ["remote/big-model"],
    });
    const stack = await startStack({ emu, env: { OPENAI_API_KEY: TOKEN, LMSTUDIO_API_TOKEN: TOKEN } });
    try {
      const available = (await (await fetch(`${stack.url}/models/available`)).json()) as {
        models: Array<{ model_key: string; device?: string }>;
      };
      expect(available.models.find((m) => m.model_key === "remote/big-model")?.device).toBe("gpu-box");
      expect(available.models.find((m) => m.model_key === MODEL)).not.toHaveProperty("device");
      const loaded = (await (await fetch(`${stack.url}/models`)).json()) as {
        models: Array<{ device?: string }>;
      };
      expect(loaded.models[0]?.device).toBe("gpu-box");
    } finally {
      await stack.close();
      await emu.stop();
    }
  });
});
