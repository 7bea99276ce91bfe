/**
 * README's TypeScript snippets for /v1 (the `openai` SDK, the AI SDK, LangChain) run as written,
 * each in its own Node process, against the service and the emulator, with the service's URL
 * and an API key swapped in.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";

const run = promisify(execFile);
const KEY = "sk-readme-key";

const snippets = [...readFileSync("README.md", "utf8").matchAll(/```ts\n([\s\S]*?)```/g)]
  .map((m) => m[1] ?? "")
  .filter((s) => s.includes("127.0.0.1:8000/v1"));

let stack: Stack;
// Inside the worktree, so that the snippets' imports resolve to the project's node_modules.
const dir = mkdtempSync(join(process.cwd(), "test/openai/.snippets-"));

beforeAll(async () => {
  stack = await startStack({ env: { API_KEYS: KEY } });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await stack.close();
});

describe("README /v1 snippets", () => {
  it("has one for each client", () => {
    const all = snippets.join("\n");
    for (const pkg of ['from "openai"', 'from "@ai-sdk/openai-compatible"', 'from "@langchain/openai"']) {
      expect(all).toContain(pkg);
    }
  });

  it.each(snippets.map((s, i) => [i, s] as const))("snippet %i runs and answers", async (i, snippet) => {
    const file = join(dir, `snippet-${i}.ts`);
    writeFileSync(
      file,
      snippet.replaceAll("http://127.0.0.1:8000/v1", `${stack.url}/v1`).replaceAll("your-api-key", KEY),
    );
    const { stdout } = await run(process.execPath, [file], { timeout: 20_000 });
    expect(stdout.trim()).toBe("Hello from qwen/qwen3-4b-2507! You said: Say hello");
    expect(stack.emu.chats.at(-1)?.authorization).toBe(`Bearer ${stack.config.openaiApiKey}`);
  });
});
