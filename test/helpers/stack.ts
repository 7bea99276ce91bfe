import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/app.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { Lifecycle } from "../../src/http/lifecycle.ts";
import { type EmulatorOptions, LmStudioEmulator } from "../emulator/emulator.ts";

/**
 * The LM Studio version the emulator plays, from EMULATOR_PROFILE ("0.3" or "0.4", LM Studio's
 * latest, by default): vitest.config.ts runs the integration suite once per profile.
 */
export function emulatorProfile(): "0.3" | "0.4" {
  return process.env.EMULATOR_PROFILE === "0.3" ? "0.3" : "0.4";
}

export interface Stack {
  emu: LmStudioEmulator;
  app: FastifyInstance;
  lifecycle: Lifecycle;
  config: Config;
  /** Base URL of the running service, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every log line the service wrote (JSON strings). */
  logs: string[];
  close(): Promise<void>;
}

export interface StackOptions {
  /** Service environment variables (OPENAI_BASE_URL etc. default to the emulator). */
  env?: Record<string, string>;
  emulator?: EmulatorOptions;
  /** Reuse a running emulator instead of starting one. */
  emu?: LmStudioEmulator;
}

/**
 * The real service on a real loopback port, in front of the LM Studio emulator on another: the
 * service's @lmstudio/sdk and openai clients reach the emulator over real sockets.
 */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const emu = opts.emu ?? (await LmStudioEmulator.start({ profile: emulatorProfile(), ...opts.emulator }));
  const config = loadConfig({
    OPENAI_BASE_URL: emu.openaiBaseUrl,
    PORT: "0",
    LOG_LEVEL: "info",
    SDK_TIMEOUT_MS: "2000",
    // Tests reset the emulator behind the service's back between cases: check on every chat.
    LOADED_MODELS_CACHE_MS: "0",
    ...opts.env,
  });
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(...String(chunk).split("\n").filter(Boolean));
      cb();
    },
  });
  const { app, lifecycle } = await buildApp(config, { logStream });
  const address = await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    emu,
    app,
    lifecycle,
    config,
    url: address,
    logs,
    async close() {
      await app.close();
      if (!opts.emu) await emu.stop();
    },
  };
}

/** Reads a response whole: status, headers, raw text, and the parsed JSON when it is JSON. */
export async function readResponse(res: Response) {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary response bodies field by field
  return { status: res.status, headers: res.headers, text, json: json as any };
}

/** POST JSON with global fetch (undici): a real HTTP client on a real socket. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return readResponse(res);
}

/** Reads an NDJSON response to the end: the raw text and the parsed lines. */
export async function postNdjson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const lines = text
    .split("\n")
    .filter((l) => l.length > 0)
    // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary NDJSON lines field by field
    .map((l) => JSON.parse(l) as any);
  return { status: res.status, headers: res.headers, text, lines };
}

/** A tiny valid PNG (1x1) and JPEG/WebP headers, as base64, for vision tests. */
export const PNG_1x1 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
export const JPEG_TINY = Buffer.from([
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
  0x00, 0x00, 0xff, 0xd9,
]).toString("base64");
export const WEBP_TINY = Buffer.concat([
  Buffer.from("RIFF"),
  Buffer.from([0x1a, 0, 0, 0]),
  Buffer.from("WEBPVP8L"),
  Buffer.from([0x0d, 0, 0, 0, 0x2f, 0, 0, 0, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00]),
]).toString("base64");
