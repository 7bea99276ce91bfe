/**
 * Every example request of the reference README (reference-api.json holds a verbatim copy of it,
 * the README of the Python/FastAPI original): the curl ones run for real through bash, the
 * PowerShell ones reproduced with fetch (same bodies).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_CATALOGUE } from "../emulator/emulator.ts";
import { JPEG_TINY, postJson, type Stack, startStack } from "../helpers/stack.ts";
import { expectNoLeak, expectNoWarnings, getJson, type Json, parseNdjsonStrict } from "./helpers.ts";

const run = promisify(execFile);
const README = new URL("./reference-api.json", import.meta.url);
/** SHA-256 of the reference README as copied: the copy is kept verbatim, never edited. */
const REFERENCE_SHA256 = "38181e3d0214b46d23183a8299775b05e7b2f0844638e5ff8a206459c7638b15";
/** The endpoint tables of the reference README. */
const ENDPOINTS = [
  "GET /health",
  "GET /help",
  "GET /models",
  "POST /models/load",
  "POST /models/unload",
  "POST /chat",
  "POST /chat/stream",
  "POST /chat/regular",
  "POST /chat/regular/stream",
  "POST /chat/vision",
  "POST /chat/vision/stream",
];
const REGULAR = "qwen/qwen3-4b-2507";
const VISION = "qwen3-vl-4b-instruct";
const CUSTOM = "my-custom-model";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    emulator: { models: [...DEFAULT_CATALOGUE, { modelKey: CUSTOM }], preload: [REGULAR, VISION] },
  });
});
beforeEach(() => {
  stack.emu.reset({ models: [...DEFAULT_CATALOGUE, { modelKey: CUSTOM }], preload: [REGULAR, VISION] });
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});

/** The fenced code blocks of a language, in order. */
function blocks(markdown: string, lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g");
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) out.push(m[1] as string);
  return out;
}

const markdown: string = JSON.parse(readFileSync(README, "utf8")).text;
const curls = blocks(markdown, "bash").filter((b) => b.includes("curl "));
const pathOf = (cmd: string) => /http:\/\/127\.0\.0\.1:8000(\S+)/.exec(cmd)?.[1] ?? "";

/** Runs a README curl command against the stack; returns the HTTP status and the body. */
async function runCurl(cmd: string) {
  const real = cmd
    .replaceAll("http://127.0.0.1:8000", stack.url)
    .replaceAll("<BASE64_ENCODED_IMAGE>", JPEG_TINY)
    .trimEnd();
  // Only additions: silence the progress meter, and print the status after the body.
  const { stdout } = await run("bash", ["-c", `${real} -sS -w '\\n%{http_code}'`], { timeout: 20_000 });
  const cut = stdout.lastIndexOf("\n");
  return { body: stdout.slice(0, cut), status: Number(stdout.slice(cut + 1)) };
}

describe("the reference README", () => {
  it("is the verbatim copy in the repository, unchanged", () => {
    expect(createHash("sha256").update(markdown).digest("hex")).toBe(REFERENCE_SHA256);
  });

  it("lists endpoints that the service serves, every one", async () => {
    const tables = [...markdown.matchAll(/^\| (GET|POST) \| `([^`]+)` \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(tables).toEqual(ENDPOINTS);
    const { json } = await getJson(`${stack.url}/openapi.json`);
    const served = Object.entries(json.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    for (const endpoint of tables) expect(served, endpoint).toContain(endpoint);
  });

  it("has one curl example per chat endpoint family, the ones run below", () => {
    expect(curls.map(pathOf)).toEqual([
      "/chat/regular",
      "/chat/regular/stream",
      "/chat/vision",
      "/chat/vision/stream",
      "/chat",
    ]);
  });
});

describe("curl examples (bash)", () => {
  it.each(curls.map((c) => [pathOf(c), c]))("%s", async (path, cmd) => {
    const { status, body } = await runCurl(cmd);
    expect(status, body).toBe(200);
    const upstream: Json = stack.emu.chats.at(-1)?.body;
    expect(stack.emu.chats).toHaveLength(1);
    const sent: Json = JSON.parse(/-d '([\s\S]*)'/.exec(cmd)?.[1] ?? "{}");
    const expectedModel = path.includes("vision") ? VISION : path === "/chat" ? CUSTOM : REGULAR;
    expect(upstream.model).toBe(expectedModel);

    let result: Json;
    if (path.endsWith("/stream")) {
      const lines = parseNdjsonStrict(body);
      const done = lines.at(-1);
      expect(done).toMatchObject({ type: "done", model: expectedModel, stop_reason: "stop" });
      expect(typeof done.predicted_tokens).toBe("number");
      expect(lines.slice(0, -1).every((l) => l.type === "fragment")).toBe(true);
      result = {
        ...done,
        content: lines
          .slice(0, -1)
          .map((l) => l.content)
          .join(""),
      };
      expect(upstream.stream).toBe(true);
    } else {
      result = JSON.parse(body);
      expect(Object.keys(result)).toEqual(
        expect.arrayContaining(["model", "content", "stop_reason", "predicted_tokens"]),
      );
      expect(result.model).toBe(expectedModel);
      expect(result.stop_reason).toBe("stop");
      expect(typeof result.predicted_tokens).toBe("number");
    }
    expect(result.predicted_tokens).toBeGreaterThan(0);
    const lastUser = [...sent.messages].reverse().find((m: Json) => m.role === "user");
    expect(result.content).toContain(lastUser.content);

    if (sent.config) {
      expect(upstream.temperature).toBe(sent.config.temperature);
      expect(upstream.max_tokens).toBe(sent.config.maxTokens);
    }
    if (path.includes("vision")) {
      expect(upstream.messages[0].content).toEqual([
        { type: "text", text: sent.messages[0].content },
        { type: "image_url", image_url: { url: `data:image/jpeg;base64,${JPEG_TINY}` } },
      ]);
    }
    if (path === "/chat") {
      // The custom model was not loaded: the service loaded it on demand, once.
      expect(stack.emu.loads.map((l) => l.modelKey)).toEqual([CUSTOM]);
    }
  });
});

describe("PowerShell examples (same requests with fetch)", () => {
  it("load exclusive, list, chat, vision chat, unload one, unload all", async () => {
    stack.emu.preload("google/gemma-3-1b");

    // Load regular model (exclusive - unloads others)
    const load = await postJson(`${stack.url}/models/load`, { model_key: REGULAR, exclusive: true });
    expect(load.status).toBe(200);
    expect(load.json).toMatchObject({ loaded: true, model_key: REGULAR, identifier: REGULAR });
    expect([...load.json.unloaded].sort()).toEqual(["google/gemma-3-1b", VISION]);

    // List Loaded Models
    const list = await getJson(`${stack.url}/models`);
    expect(list.status).toBe(200);
    expect(list.json.models.map((m: Json) => m.identifier)).toEqual([REGULAR]);

    // Regular chat, as ConvertTo-Json sends it
    const chat = await postJson(`${stack.url}/chat/regular`, {
      messages: [
        { role: "system", content: "You are helpful." },
        { role: "user", content: "What is 2+2?" },
      ],
      config: { temperature: 0.7, maxTokens: 100 },
    });
    expect(chat.status).toBe(200);
    expect(chat.json).toMatchObject({ model: REGULAR, stop_reason: "stop" });
    expect(chat.json.content).toContain("What is 2+2?");
    expect(stack.emu.chats.at(-1)?.body).toMatchObject({ temperature: 0.7, max_tokens: 100 });

    // Vision chat with a base64 image read from a file (the vision model is loaded on demand)
    const vision = await postJson(`${stack.url}/chat/vision`, {
      messages: [
        {
          role: "user",
          content: "Describe this image",
          images: [{ data_base64: JPEG_TINY, mime_type: "image/jpeg" }],
        },
      ],
      config: { temperature: 0.7, maxTokens: 256 },
    });
    expect(vision.status).toBe(200);
    expect(vision.json.model).toBe(VISION);
    expect(stack.emu.chats.at(-1)?.body).toMatchObject({ temperature: 0.7, max_tokens: 256 });

    // Unload specific model
    const one = await postJson(`${stack.url}/models/unload`, { model_key: REGULAR });
    expect(one.status).toBe(200);
    expect(one.json).toEqual({ unloaded: [REGULAR] });
    expect(stack.emu.loaded().map((m) => m.identifier)).toEqual([VISION]);

    // Unload all models
    const all = await postJson(`${stack.url}/models/unload`, { unload_all: true });
    expect(all.status).toBe(200);
    expect(all.json).toEqual({ unloaded: [VISION] });
    expect(stack.emu.loaded()).toEqual([]);
  });

  it("the reference's Model Not Found shape", async () => {
    const r = await postJson(`${stack.url}/models/load`, { model_key: "not-downloaded/anything" });
    expect(r.status).toBe(404);
    expect(r.json.loaded).toBe(false);
    expect(r.json.error).toMatch(/^Failed to load model: /);
    expectNoLeak(r.text);
  });
});
