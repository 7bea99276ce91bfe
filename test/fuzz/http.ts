/** Real HTTP for the robustness tests, and the checks every error answer must pass. */

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { LmStudioEmulator } from "../emulator/emulator.ts";
import { readResponse } from "../helpers/stack.ts";
import type { Case, Loc } from "./arbitraries.ts";

export interface Answer {
  status: number;
  contentType: string;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON of any shape
  json: any;
}

const bytes = (b: Buffer) => new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.length);

/**
 * POST over global fetch (undici, keep-alive). `contentType: null` sends no content-type at all
 * (a Buffer body: fetch adds text/plain to string bodies by itself).
 */
export async function post(
  url: string,
  body: string | Buffer,
  contentType: string | null = "application/json",
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (contentType !== null) headers["content-type"] = contentType;
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: typeof body === "string" ? (contentType === null ? bytes(Buffer.from(body)) : body) : bytes(body),
  });
  const { status, headers: answered, text, json } = await readResponse(res);
  return { status, contentType: answered.get("content-type") ?? "", text, json };
}

const short = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}... (${s.length} chars)` : s);

/** Throws (with the case and the answer) unless `ok`. */
export function check(ok: boolean, what: string, c: Pick<Case, "label">, a: Answer): asserts ok {
  if (!ok) throw new Error(`${what} [${c.label}] -> ${a.status} ${a.contentType} ${short(a.text)}`);
}

const startsWith = (loc: unknown, prefix: Loc) => Array.isArray(loc) && prefix.every((p, i) => loc[i] === p);

/**
 * An error answer: JSON with a `detail`; a validation answer (422, or 413 for an image over the
 * limit) in FastAPI's shape `{"detail":[{"loc":["body",...],"msg","type"}]}`, pointing at `c.loc`.
 */
export function checkErrorAnswer(c: Case, a: Answer): void {
  check(a.status < 500, "5xx", c, a);
  check(c.status.includes(a.status), `status not in ${c.status.join("/")}`, c, a);
  check(a.contentType.startsWith("application/json"), "not JSON", c, a);
  const detail = a.json?.detail;
  if (a.status === 422 || (a.status === 413 && Array.isArray(detail))) {
    check(Array.isArray(detail) && detail.length > 0, "422 detail is not a non-empty array", c, a);
    for (const item of detail) {
      check(
        Array.isArray(item?.loc) &&
          item.loc[0] === "body" &&
          item.loc.every((p: unknown) => typeof p === "string" || typeof p === "number"),
        'detail loc is not ["body", ...]',
        c,
        a,
      );
      check(typeof item.msg === "string" && item.msg.length > 0, "detail msg", c, a);
      check(typeof item.type === "string" && item.type.length > 0, "detail type", c, a);
    }
    if (c.loc) {
      const want = ["body", ...c.loc];
      check(
        detail.some((item: { loc: unknown }) => startsWith(item.loc, want)),
        `no detail at ${JSON.stringify(want)}`,
        c,
        a,
      );
    }
  } else {
    check(typeof detail === "string" && detail.length > 0, "no string detail", c, a);
  }
}

/** What the emulator has received: must not move while only invalid input is sent. */
export const upstreamCounts = (emu: LmStudioEmulator) => ({
  chats: emu.chats.length,
  loads: emu.loads.length,
  unloads: emu.unloads.length,
});

let gcFn: (() => void) | undefined;
/** global.gc when the process was started with --expose-gc, else obtained through V8 flags. */
export function forceGc(): void {
  if (!gcFn) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    }
  }
  gcFn();
  gcFn();
}

export interface MemorySample {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
}

export async function sampleMemory(): Promise<MemorySample> {
  // let sockets close and finalizers run before measuring
  await new Promise((r) => setTimeout(r, 50));
  forceGc();
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round((n / 1024 / 1024) * 10) / 10;
  return {
    rssMb: mb(m.rss),
    heapUsedMb: mb(m.heapUsed),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external),
  };
}
