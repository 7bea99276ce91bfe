/**
 * Two service processes in front of the same upstreams: neither keeps state the other needs, and
 * LM Studio itself refuses a second copy of a model that both load at once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LmStudioEmulator } from "../emulator/emulator.ts";
import { postJson, postNdjson } from "../helpers/stack.ts";
import { writeUpstreamsFile } from "./upstreams-file.ts";

const MODEL = "google/gemma-3-1b";
const dir = mkdtempSync(join(tmpdir(), "lmstudio-service-two-"));
let a: LmStudioEmulator;
let b: LmStudioEmulator;
let c: LmStudioEmulator;
const children: ChildProcess[] = [];

/** `node src/main.ts` on a free port; resolves with its URL once it listens. */
function startService(file: string): Promise<string> {
  const child = spawn(process.execPath, ["src/main.ts"], {
    env: {
      ...process.env,
      UPSTREAMS_FILE: file,
      PORT: "0",
      LOG_LEVEL: "info",
      SDK_TIMEOUT_MS: "2000",
      UPSTREAM_CHECK_INTERVAL_MS: "200",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr?.on("data", (d) => {
    stderr += String(d);
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`service exited ${code}: ${stderr}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const m = /ready at (http:\/\/[^;\s]+)/.exec(line);
      if (m?.[1]) resolve(m[1]);
    });
  });
}

beforeAll(async () => {
  [a, b, c] = await Promise.all([
    LmStudioEmulator.start({ loadTimeMs: 400, loadSteps: 4 }),
    LmStudioEmulator.start({ loadTimeMs: 400, loadSteps: 4 }),
    LmStudioEmulator.start({ jit: false }),
  ]);
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await Promise.all([a.stop(), b.stop(), c.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("two service instances in front of the same upstreams", () => {
  it("asked to load the same model at once, make one load on the host", async () => {
    const file = writeUpstreamsFile(dir, a, b, c);
    const [one, two] = await Promise.all([startService(file), startService(file)]);
    const [r1, r2] = await Promise.all([
      postJson(`${one}/models/load`, { model_key: MODEL }),
      postJson(`${two}/models/load`, { model_key: MODEL }),
    ]);
    expect(r1.status, r1.text).toBe(200);
    expect(r2.status, r2.text).toBe(200);
    expect(r1.json).toMatchObject({ identifier: MODEL, upstream: "a" });
    expect(r2.json).toMatchObject({ identifier: MODEL, upstream: "a" });
    // Both asked LM Studio under the model's key as identifier: it loaded once and refused the second copy.
    expect(a.loads.map((l) => [l.identifier, l.outcome])).toEqual([
      [MODEL, "loaded"],
      [MODEL, "failed"],
    ]);
    expect(a.loads[1]?.error).toMatch(/already exists/);
    expect(a.loaded().map((m) => m.identifier)).toEqual([MODEL]);
    expect(b.loads).toEqual([]);

    // Both then chat with the one copy.
    const chats = await Promise.all([
      postNdjson(`${one}/chat/stream`, { model_key: MODEL, messages: [{ role: "user", content: "hi" }] }),
      postNdjson(`${two}/chat/stream`, { model_key: MODEL, messages: [{ role: "user", content: "hi" }] }),
    ]);
    for (const r of chats) expect(r.lines.at(-1).type).toBe("done");
    expect(a.loads.filter((l) => l.outcome === "loaded")).toHaveLength(1);
  });
});
