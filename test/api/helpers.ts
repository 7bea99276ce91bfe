import { expect } from "vitest";
import type { LmStudioEmulator } from "../emulator/emulator.ts";
import { readResponse } from "../helpers/stack.ts";

/** A JSON value as parsed from a response; tests narrow it with expect(). */
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON bodies are asserted field by field
export type Json = any;

/** GET with global fetch: status, headers, raw text and parsed JSON (when it is JSON). */
export async function getJson(url: string, headers: Record<string, string> = {}) {
  return readResponse(await fetch(url, { headers }));
}

/**
 * Stack frames, on their own line or flattened into a message: `at Foo (/x/y.js:1:1)`,
 * `at async Foo.bar (file:///x.js:1:1)`, `at /x/y.js:1:1`, `at node:internal/x:1:1`.
 */
const STACK_FRAMES = [
  /\n\s+at /,
  /\bat (?:async )?(?:new )?[\w$.<>[\]]+(?: \[as [\w$]+\])? \(/,
  /\bat (?:file:\/\/|node:|\/|[A-Za-z]:\\)\S*:\d+/,
  /\.(?:[cm]?[jt]sx?|node):\d+(?::\d+)?\b/,
];

/**
 * Absolute file-system paths: under a system root, or any absolute path to a source file.
 * URL paths such as /chat/vision (which details name on purpose) are neither.
 */
const ABSOLUTE_PATHS = [
  /(?:^|[^\w./-])\/(?:home|root|usr|opt|var|tmp|etc|srv|mnt|proc|private|Users|app|work)\/[\w.@-]/,
  /(?:^|[^\w./-])(?:\/[\w.@-]+){2,}\.(?:[cm]?[jt]sx?|json|node|py|so)\b/,
  /\b[A-Za-z]:\\[\w.@-]/,
  /file:\/\//,
  /node_modules/,
];

/** A response must never reveal internals: stack frames (even flattened), file paths, node_modules. */
export function expectNoLeak(text: string): void {
  for (const re of [...STACK_FRAMES, ...ABSOLUTE_PATHS]) {
    expect(text, `leaks internals (${re})`).not.toMatch(re);
  }
}

/**
 * The emulator records a warning for every protocol message it did not expect from the service's
 * clients: called after each test, before the next one resets the emulator.
 */
export function expectNoWarnings(...emus: LmStudioEmulator[]): void {
  for (const emu of emus) expect(emu.warnings, "the emulator saw no communication warnings").toEqual([]);
}

export interface TimedChunk {
  /** ms since the request was sent */
  at: number;
  bytes: Buffer;
}

/**
 * POSTs JSON and reads the response body chunk by chunk as it arrives (no parsing), recording when
 * each chunk came: for byte-level NDJSON framing and flush-timing checks.
 */
export async function postRaw(url: string, body: unknown) {
  const started = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const chunks: TimedChunk[] = [];
  const reader = res.body?.getReader();
  for (let step = await reader?.read(); step && !step.done; step = await reader?.read()) {
    chunks.push({ at: performance.now() - started, bytes: Buffer.from(step.value) });
  }
  const ended = performance.now() - started;
  const text = Buffer.concat(chunks.map((c) => c.bytes)).toString("utf8");
  return { status: res.status, headers: res.headers, chunks, text, ended };
}

/**
 * Strict NDJSON framing: the text ends with "\n", no blank lines, every line one JSON object.
 * Returns the parsed objects.
 */
export function parseNdjsonStrict(text: string): Json[] {
  expect(text.length).toBeGreaterThan(0);
  expect(text.endsWith("\n")).toBe(true);
  const lines = text.slice(0, -1).split("\n");
  return lines.map((line) => {
    expect(line.length).toBeGreaterThan(0);
    expect(line).not.toContain("\r");
    const value = JSON.parse(line);
    expect(typeof value).toBe("object");
    expect(value).not.toBeNull();
    expect(Array.isArray(value)).toBe(false);
    return value;
  });
}

/** The time (ms since the request) at which the first complete line containing `needle` arrived. */
export function arrivalOf(chunks: TimedChunk[], needle: string): number | undefined {
  let seen = "";
  for (const c of chunks) {
    seen += c.bytes.toString("utf8");
    const end = seen.lastIndexOf("\n");
    if (end >= 0 && seen.slice(0, end).includes(needle)) return c.at;
  }
  return undefined;
}

/** A FastAPI-shaped 422: `{"detail":[{"loc":[...],"msg","type"}]}`; returns the items. */
export function expectValidation(status: number, json: Json, loc?: Array<string | number>): Json[] {
  expect(status).toBe(422);
  expect(Array.isArray(json?.detail)).toBe(true);
  expect(json.detail.length).toBeGreaterThan(0);
  for (const item of json.detail) {
    expect(Array.isArray(item.loc)).toBe(true);
    expect(item.loc[0]).toBe("body");
    expect(typeof item.msg).toBe("string");
    expect(item.msg.length).toBeGreaterThan(0);
    expect(typeof item.type).toBe("string");
  }
  if (loc) expect(json.detail.map((d: Json) => d.loc)).toContainEqual(loc);
  return json.detail;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
