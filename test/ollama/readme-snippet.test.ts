/** README's `ollama` client snippet, run as written (host pointed at a test stack) by Node itself. */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Stack, startStack } from "../helpers/stack.ts";

const run = promisify(execFile);
const snippet = [...readFileSync("README.md", "utf8").matchAll(/```js\n([\s\S]*?)```/g)]
  .map((m) => m[1] ?? "")
  .find((b) => b.includes("new Ollama("));

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack.close();
});

it("README's ollama client snippet lists the models and streams a chat", async () => {
  expect(snippet).toBeDefined();
  const code = (snippet ?? "").replaceAll("http://127.0.0.1:8000", stack.url);
  // Run from the project root, so that `import "ollama"` resolves to node_modules.
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", code], { timeout: 15_000 });
  const [list, answer] = stdout.trim().split("\n");
  expect(list).toContain("qwen/qwen3-4b-2507");
  expect(answer).toContain("Why is the sky blue?");
  expect(stack.emu.chats.at(-1)?.outcome).toBe("finished");
});
