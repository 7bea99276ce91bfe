import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { envSchema } from "../src/config.ts";
import { expectNoWarnings } from "./api/helpers.ts";
import { JPEG_TINY, type Stack, startStack } from "./helpers/stack.ts";

const run = promisify(execFile);

/** The README's bash blocks that call the service: they must work as written, in order. */
const blocks = [...readFileSync("README.md", "utf8").matchAll(/```bash\n([\s\S]*?)```/g)]
  .map((m) => m[1] ?? "")
  .filter((b) => b.includes("curl"));

let stack: Stack;
let cwd: string;

beforeAll(async () => {
  stack = await startStack({ emulator: { loadTimeMs: 120, loadSteps: 6 } });
  cwd = mkdtempSync(join(tmpdir(), "readme-"));
  // The vision example reads a photo from the working directory.
  writeFileSync(join(cwd, "photo.jpg"), Buffer.from(JPEG_TINY, "base64"));
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});

describe("configuration docs", () => {
  it("README's table and .env.example name every variable the service reads", () => {
    const readme = readFileSync("README.md", "utf8");
    const example = readFileSync(".env.example", "utf8");
    for (const name of Object.keys(envSchema.shape)) {
      expect(readme, name).toMatch(new RegExp(`\\| \`${name}\`\\s+\\|`));
      expect(example, name).toMatch(new RegExp(`^#? ?${name}=`, "m"));
    }
  });
});

describe("README examples", () => {
  it("has curl examples for every endpoint", () => {
    const all = blocks.join("\n");
    for (const path of [
      "/health",
      "/help",
      "/openapi.json",
      "/models\n",
      "/models/available",
      "/models/load ",
      "/models/load/stream",
      "/models/unload",
      "/chat ",
      "/chat/regular ",
      "/chat/regular/stream",
      "/chat/vision ",
      "/chat/vision/stream",
      "/api/tags",
      "/api/chat ",
      "/api/generate ",
      "/api/embed ",
      "/api/pull ",
    ]) {
      expect(all, path).toContain(`127.0.0.1:8000${path}`);
    }
  });

  it("runs every block as written, in order, as a reader would, and each succeeds", async () => {
    // From the state the README describes: LM Studio up, nothing loaded.
    stack.emu.reset({ loadTimeMs: 120, loadSteps: 6 });
    expect(blocks.length).toBeGreaterThan(5);
    for (const [i, block] of blocks.entries()) {
      const script = block.replaceAll("http://127.0.0.1:8000", stack.url);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { cwd, timeout: 15_000 });
      const what = `block ${i}:\n${block}\nprinted:\n${stdout}`;
      expect(stdout.trim().length, what).toBeGreaterThan(0);
      // Error bodies start with "detail" (or "loaded":false for loads); stream errors are "type":"error".
      expect(stdout, what).not.toMatch(/(^|\})\{"detail"|\{"loaded":false,"error"|\{"type":"error","error"/m);
      // The Ollama-compatible API's errors, in a body or as a stream's last line.
      expect(stdout, what).not.toMatch(/(^|\})\{"error"/m);
      if (block.includes("/chat")) expect(stdout, what).toMatch(/"content"|"fragment"/);
    }
  }, 60_000);
});
