/** expectNoLeak is what many tests rely on to say "no internals": it must catch them, and only them. */
import { describe, expect, it } from "vitest";
import { expectNoLeak } from "./helpers.ts";

describe("expectNoLeak", () => {
  it.each([
    "Error: boom\n    at Foo (/secret/path/file.js:1:1)",
    "LM Studio failed: Error: boom at Foo (/secret/path/file.js:1:1)",
    "at async Foo.bar (file:///x/y.js:1:1)",
    "at new Foo (x)",
    "at Object.<anonymous> (x)",
    "at Foo.bar [as baz] (x)",
    "failed at /srv/lib/y.js:10:5",
    "failed at node:internal/process/task_queues:95:5",
    "in chat-engine.ts:12:3",
    "cannot open /secret/path/file.ts",
    "config in /home/someone/.lmstudio",
    "C:\\Users\\someone\\x",
    "node_modules/@lmstudio/sdk",
  ])("catches %j", (text) => {
    expect(() => expectNoLeak(text)).toThrow(/leaks internals/);
  });

  it.each([
    "Route GET:/nope not found",
    "/chat/regular is text-only: send messages with images to /chat/vision (or /chat)",
    "Failed to load model: Out of memory",
    'No model "gemma-3-1b": did you mean "google/gemma-3-1b"?',
    "must be at least 1 (got 0)",
    "LM Studio did not answer within 300 ms",
    '{"detail":[{"loc":["body","messages",0,"images"],"msg":"x","type":"y"}]}',
  ])("lets %j through", (text) => {
    expectNoLeak(text);
  });
});
