/**
 * The playground in a real headless Chromium, against the real service and the LM Studio emulator:
 * every check goes through the page as a user would (by role and label), and the emulator says
 * what LM Studio saw (loads cancelled, chats cancelled, images received).
 */
import { createServer } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EmulatorOptions } from "../emulator/emulator.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { PNG_1x1, type Stack, startStack } from "../helpers/stack.ts";

let browser: Browser;
const open: Array<{ stack: Stack; page: Page }> = [];

beforeAll(async () => {
  browser = await launchBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const { stack, page } of open.splice(0)) {
    await page.context().close();
    await stack.close();
  }
});

interface Opened {
  stack: Stack;
  page: Page;
  /** Requests to anything but the service (should stay empty). */
  external: string[];
  /** Errors the page threw or logged. */
  errors: string[];
}

async function openPlayground(
  opts: { emulator?: EmulatorOptions; env?: Record<string, string>; waitReady?: boolean } = {},
): Promise<Opened> {
  const stack = await startStack({ emulator: opts.emulator, env: opts.env });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  open.push({ stack, page });
  const origin = new URL(stack.url).origin;
  const external: string[] = [];
  const errors: string[] = [];
  // Anything not for the service is recorded and refused: the page must not need it.
  await context.route(
    (url) => url.origin !== origin,
    (route) => {
      external.push(route.request().url());
      return route.abort();
    },
  );
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) external.push(url);
  });
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await page.goto(`${stack.url}/`);
  if (opts.waitReady !== false) await page.waitForSelector("body[data-ready]");
  return { stack, page, external, errors };
}

const row = (page: Page, modelKey: string) => page.getByRole("row").filter({ hasText: modelKey });

/** Records every aria-valuenow a progress bar shows, from now on. */
async function recordProgress(page: Page): Promise<() => Promise<number[]>> {
  await page.evaluate(() => {
    const seen: number[] = [];
    (window as unknown as { __progress: number[] }).__progress = seen;
    const note = (node: Element) => {
      const v = node.getAttribute("aria-valuenow");
      if (v !== null && seen.at(-1) !== Number(v)) seen.push(Number(v));
    };
    new MutationObserver((records) => {
      for (const r of records) {
        const target = r.target as Element;
        if (r.type === "attributes" && target.getAttribute("role") === "progressbar") note(target);
        for (const added of Array.from(r.addedNodes)) {
          if (added instanceof Element) added.querySelectorAll('[role="progressbar"]').forEach(note);
        }
      }
    }).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ["aria-valuenow"],
    });
  });
  return () => page.evaluate(() => (window as unknown as { __progress: number[] }).__progress);
}

/** Records each distinct text the last answer shows while it streams. */
async function recordAnswerTexts(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const texts: string[] = [];
    (window as unknown as { __texts: string[] }).__texts = texts;
    const log = document.getElementById("conversation") as HTMLElement;
    new MutationObserver(() => {
      const answers = log.querySelectorAll(".turn.assistant .markdown");
      const text = answers[answers.length - 1]?.textContent?.trim() ?? "";
      if (text && texts.at(-1) !== text) texts.push(text);
    }).observe(log, { subtree: true, childList: true, characterData: true });
  });
  return () => page.evaluate(() => (window as unknown as { __texts: string[] }).__texts);
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("the playground page", () => {
  it("lists the models by role, with state, capabilities and size, fetching nothing from outside", async () => {
    const { page, external, errors } = await openPlayground({
      emulator: { preload: ["qwen/qwen3-4b-2507"] },
    });
    await expect(page.getByRole("combobox", { name: "Model" }).isVisible()).resolves.toBe(true);
    await expect(page.getByRole("textbox", { name: "Message" }).isVisible()).resolves.toBe(true);
    await expect(page.getByRole("button", { name: "Send" }).isEnabled()).resolves.toBe(true);
    await expect(page.getByRole("button", { name: "Stop" }).isDisabled()).resolves.toBe(true);
    await expect(page.getByLabel("Image").getAttribute("type")).resolves.toBe("file");

    const loaded = row(page, "qwen/qwen3-4b-2507");
    await expect(loaded.getByRole("button", { name: "Unload" }).isVisible()).resolves.toBe(true);
    await expect(loaded.textContent()).resolves.toMatch(/Loaded.*GB/);
    await expect(loaded.textContent()).resolves.toMatch(/Tools/);
    const vision = row(page, "qwen3-vl-4b-instruct");
    await expect(vision.getByRole("button", { name: "Load" }).isVisible()).resolves.toBe(true);
    await expect(vision.textContent()).resolves.toMatch(/Vision.*Not loaded/);
    await expect(row(page, "text-embedding-nomic").textContent()).resolves.toMatch(/Embedding/);
    await expect(page.getByRole("status").first().textContent()).resolves.toMatch(/LM Studio 0\.4/);
    // The picker offers the chat models (no embedding model), the loaded default first.
    const options = await page.getByRole("combobox", { name: "Model" }).locator("option").allTextContents();
    expect(options).toContain("qwen/qwen3-4b-2507 (loaded)");
    expect(options.some((o) => o.includes("embed"))).toBe(false);
    await expect(page.getByRole("combobox", { name: "Model" }).inputValue()).resolves.toBe(
      "qwen/qwen3-4b-2507",
    );
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("follows the system's light or dark scheme", async () => {
    const { page } = await openPlayground();
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: "light" });
    const light = await background();
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await background();
    expect(light).toBe("rgb(245, 246, 248)");
    expect(dark).toBe("rgb(15, 17, 21)");
  });

  it("is usable from the keyboard: Tab reaches the controls, Enter sends, Escape stops", async () => {
    const { page, stack } = await openPlayground({
      emulator: { preload: ["qwen/qwen3-4b-2507"], reply: "word ".repeat(2_000).trim(), chunkDelayMs: 20 },
    });
    const focused = () => page.evaluate(() => document.activeElement?.id ?? "");
    await page.getByRole("combobox", { name: "Model" }).focus();
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      order.push(await focused());
    }
    expect(order).toEqual(expect.arrayContaining(["temperature", "max-tokens", "message", "image"]));
    await page.getByRole("textbox", { name: "Message" }).focus();
    await page.keyboard.type("Go on");
    await page.keyboard.press("Enter");
    await page.locator(".turn.assistant .markdown").filter({ hasText: "word" }).waitFor();
    await page.keyboard.press("Escape");
    await stack.emu.waitFor(() => stack.emu.chats[0]?.outcome === "cancelled", 5_000);
  });

  it("loads a model with a progress bar that goes from start to end", async () => {
    const { page, stack, external } = await openPlayground({ emulator: { loadTimeMs: 1_500, loadSteps: 5 } });
    const progress = await recordProgress(page);
    const target = row(page, "google/gemma-3-1b");
    await target.getByRole("button", { name: "Load" }).click();
    await page.getByRole("progressbar", { name: "Loading google/gemma-3-1b" }).waitFor();
    await target.getByRole("button", { name: "Unload" }).waitFor({ timeout: 10_000 });
    await expect(target.textContent()).resolves.toMatch(/Loaded/);

    const seen = await progress();
    expect(seen[0]).toBe(0);
    expect(seen.at(-1)).toBe(100);
    expect(seen.filter((v) => v > 0 && v < 100).length).toBeGreaterThanOrEqual(2);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(stack.emu.loads.map((l) => [l.modelKey, l.outcome])).toEqual([["google/gemma-3-1b", "loaded"]]);
    await expect(page.getByRole("progressbar").count()).resolves.toBe(0);
    expect(external).toEqual([]);
  });

  it("cancels a load: the emulator records it cancelled", async () => {
    const { page, stack } = await openPlayground({ emulator: { loadTimeMs: 10_000, loadSteps: 50 } });
    const target = row(page, "google/gemma-3-1b");
    await target.getByRole("button", { name: "Load" }).click();
    await page.getByRole("progressbar").waitFor();
    await stack.emu.waitFor(() => stack.emu.loads.length === 1);
    await target.getByRole("button", { name: "Cancel" }).click();
    await stack.emu.waitFor(() => stack.emu.loads[0]?.outcome === "cancelled", 5_000);
    await page.getByRole("alert").filter({ hasText: "cancelled" }).waitFor();
    await target.getByRole("button", { name: "Load" }).waitFor();
    expect(stack.emu.loaded()).toEqual([]);
  });

  it("streams an answer in several steps, with usage and timings, sent with Enter", async () => {
    const { page, stack, external, errors } = await openPlayground({
      emulator: {
        preload: ["qwen/qwen3-4b-2507"],
        reply: "One two three four five six seven eight nine ten",
        chunkDelayMs: 60,
      },
    });
    const texts = await recordAnswerTexts(page);
    await page.getByRole("textbox", { name: "Message" }).fill("Count to ten");
    await page.getByRole("textbox", { name: "Message" }).press("Enter");
    const usage = page.locator(".turn.assistant .usage");
    await usage.filter({ hasText: "tok/s" }).waitFor({ timeout: 10_000 });

    const seen = await texts();
    expect(seen.at(-1)).toBe("One two three four five six seven eight nine ten");
    expect(seen.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]?.startsWith(seen[i - 1] ?? "")).toBe(true);
    await expect(usage.textContent()).resolves.toMatch(
      /qwen\/qwen3-4b-2507 · 10 tokens .*first token \d+ ms/,
    );
    const sent = stack.emu.chats[0]?.body as { model: string; temperature: number; max_tokens: number };
    expect(sent).toMatchObject({ model: "qwen/qwen3-4b-2507", temperature: 0.7, max_tokens: 1024 });
    await expect(page.getByRole("textbox", { name: "Message" }).inputValue()).resolves.toBe("");
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("sends the system prompt, temperature and max tokens, and keeps the conversation", async () => {
    const { page, stack } = await openPlayground({ emulator: { preload: ["qwen/qwen3-4b-2507"] } });
    await page.getByText("System prompt").click();
    await page.getByRole("textbox", { name: "System prompt" }).fill("Be brief.");
    await page.getByLabel("Temperature").fill("0.2");
    await page.getByLabel("Max tokens").fill("64");
    for (const text of ["First", "Second"]) {
      await page.getByRole("textbox", { name: "Message" }).fill(text);
      await page.getByRole("button", { name: "Send" }).click();
      await page.getByRole("button", { name: "Send" }).and(page.locator(":enabled")).waitFor();
    }
    await expect(page.locator(".turn.assistant .usage").count()).resolves.toBe(2);
    const body = stack.emu.chats[1]?.body as {
      messages: Array<{ role: string }>;
      temperature: number;
      max_tokens: number;
    };
    expect(body.messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(body).toMatchObject({ temperature: 0.2, max_tokens: 64 });

    await page.getByRole("button", { name: "Clear" }).click();
    await expect(page.locator(".turn").count()).resolves.toBe(0);
  });

  it("stops a long answer: the emulator records the chat cancelled", async () => {
    const { page, stack } = await openPlayground({
      emulator: { preload: ["qwen/qwen3-4b-2507"], reply: "word ".repeat(2_000).trim(), chunkDelayMs: 20 },
    });
    await page.getByRole("textbox", { name: "Message" }).fill("Talk for a long time");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".turn.assistant .markdown").filter({ hasText: "word" }).waitFor();
    await expect(page.getByRole("button", { name: "Stop" }).isEnabled()).resolves.toBe(true);
    await page.getByRole("button", { name: "Stop" }).click();
    await stack.emu.waitFor(() => stack.emu.chats[0]?.outcome === "cancelled", 5_000);
    await page.locator(".turn.assistant .usage").filter({ hasText: "Stopped." }).waitFor();
    expect(stack.emu.chats[0]?.chunksSent).toBeLessThan(2_000);
    await expect(page.getByRole("button", { name: "Send" }).isEnabled()).resolves.toBe(true);
  });

  it("sends an attached image to the vision endpoint, with a thumbnail first", async () => {
    const { page, stack, errors } = await openPlayground({ emulator: { preload: ["qwen3-vl-4b-instruct"] } });
    const posted: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST") posted.push(new URL(r.url()).pathname);
    });
    await page.getByRole("combobox", { name: "Model" }).selectOption("qwen3-vl-4b-instruct");
    await page.getByLabel("Image").setInputFiles({
      name: "dot.png",
      mimeType: "image/png",
      buffer: Buffer.from(PNG_1x1, "base64"),
    });
    await page.getByRole("img", { name: "Image to send: dot.png" }).waitFor();
    await page.getByRole("textbox", { name: "Message" }).fill("What is in this image?");
    await page.getByRole("button", { name: "Send" }).click();
    await page
      .locator(".turn.assistant .markdown")
      .filter({ hasText: "Hello from qwen3-vl-4b-instruct" })
      .waitFor();
    await page.getByRole("img", { name: "Sent image: dot.png" }).waitFor();
    await expect(page.getByRole("img", { name: "Image to send: dot.png" }).count()).resolves.toBe(0);

    expect(posted).toEqual(["/chat/vision/stream"]);
    const content = (stack.emu.chats[0]?.body as { messages: Array<{ content: unknown }> } | undefined)
      ?.messages[0]?.content;
    expect(content).toEqual([
      { type: "text", text: "What is in this image?" },
      { type: "image_url", image_url: { url: `data:image/png;base64,${PNG_1x1}` } },
    ]);
    expect(errors).toEqual([]);
  });

  it("takes an image dropped on the chat or pasted into the message", async () => {
    const { page, stack } = await openPlayground({ emulator: { preload: ["qwen3-vl-4b-instruct"] } });
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const transfer = () => {
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
        return dt;
      };
      const chat = document.getElementById("chat") as HTMLElement;
      chat.dispatchEvent(
        new DragEvent("dragenter", { dataTransfer: transfer(), bubbles: true, cancelable: true }),
      );
      chat.dispatchEvent(
        new DragEvent("drop", { dataTransfer: transfer(), bubbles: true, cancelable: true }),
      );
      const message = document.getElementById("message") as HTMLElement;
      const pasted = new DataTransfer();
      pasted.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
      message.dispatchEvent(
        new ClipboardEvent("paste", { clipboardData: pasted, bubbles: true, cancelable: true }),
      );
    }, PNG_1x1);
    await page.getByRole("img", { name: "Image to send: dropped.png" }).waitFor();
    await page.getByRole("img", { name: "Image to send: pasted.png" }).waitFor();
    // The picked model (a text model) cannot see: the images go to the default vision model.
    await page.getByRole("combobox", { name: "Model" }).selectOption("google/gemma-3-1b");
    await page.getByRole("button", { name: "Remove pasted.png" }).click();
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".turn.assistant .usage").filter({ hasText: "qwen3-vl-4b-instruct" }).waitFor();
    const content = (stack.emu.chats[0]?.body as { messages: Array<{ content: unknown[] }> } | undefined)
      ?.messages[0]?.content;
    expect(content?.filter((p) => (p as { type: string }).type === "image_url")).toHaveLength(1);
  });

  it("says in plain words that LM Studio is unreachable", async () => {
    const port = await closedPort();
    const { page, external } = await openPlayground({
      env: { OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`, SDK_TIMEOUT_MS: "1000" },
    });
    await page.getByRole("alert").filter({ hasText: "LM Studio is not reachable" }).waitFor();
    await expect(page.locator("#health").textContent()).resolves.toMatch(/LM Studio unreachable/);
    await page.getByRole("textbox", { name: "Message" }).fill("Hello?");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator("#chat-error").filter({ hasText: "LM Studio is not reachable" }).waitFor();
    // Nothing was answered: the message is back in the box, ready to send again.
    await expect(page.getByRole("textbox", { name: "Message" }).inputValue()).resolves.toBe("Hello?");
    expect(external).toEqual([]);
  });

  it("refuses an exclusive load while a chat runs on another model, in plain words", async () => {
    const { page, stack } = await openPlayground({
      emulator: { preload: ["qwen/qwen3-4b-2507"], reply: "word ".repeat(500).trim(), chunkDelayMs: 20 },
    });
    await page.getByRole("textbox", { name: "Message" }).fill("Keep talking");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".turn.assistant .markdown").filter({ hasText: "word" }).waitFor();
    await page.getByLabel("Exclusive").check();
    await row(page, "google/gemma-3-1b").getByRole("button", { name: "Load" }).click();
    await page.getByRole("alert").filter({ hasText: "Exclusive load refused" }).waitFor();
    await page.getByRole("button", { name: "Stop" }).click();
    await stack.emu.waitFor(() => stack.emu.chats[0]?.outcome === "cancelled", 5_000);
  });

  it("renders a model's XSS payload as inert text, and its Markdown as HTML", async () => {
    const payload =
      '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> **bold** [link](javascript:window.__xss=3)';
    const { page, external, errors } = await openPlayground({
      emulator: { preload: ["qwen/qwen3-4b-2507"], reply: payload, tokensPerChunk: 3 },
    });
    let dialogs = 0;
    page.on("dialog", (d) => {
      dialogs++;
      return d.dismiss();
    });
    await page.getByRole("textbox", { name: "Message" }).fill("Say something dangerous");
    await page.getByRole("button", { name: "Send" }).click();
    const answer = page.locator(".turn.assistant .markdown");
    await page.locator(".turn.assistant .usage").filter({ hasText: "tok/s" }).waitFor();
    await page.locator(".turn.assistant a").filter({ hasText: "link" }).click();

    await expect(answer.textContent()).resolves.toContain('<img src=x onerror="window.__xss=1">');
    await expect(answer.textContent()).resolves.toContain("<script>window.__xss=2</script>");
    await expect(answer.locator("img, script").count()).resolves.toBe(0);
    await expect(answer.locator("strong").textContent()).resolves.toBe("bold");
    await expect(answer.locator("a").getAttribute("href")).resolves.toBeNull();
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(dialogs).toBe(0);
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("shows reasoning collapsed: <think> in the text, and reasoning lines", async () => {
    const { page } = await openPlayground({
      emulator: {
        preload: ["qwen/qwen3-4b-2507"],
        reply: "<think>Two and two make four.</think>The answer is 4.",
      },
    });
    await page.getByRole("textbox", { name: "Message" }).fill("What is 2+2?");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".turn.assistant .usage").filter({ hasText: "tok/s" }).waitFor();
    const first = page.locator(".turn.assistant").first();
    // The Markdown renderer loads with the first answer: wait for its render, not a fixed time.
    await first.locator(".markdown").filter({ hasText: "The answer is 4." }).waitFor();
    await expect(first.locator(".markdown").textContent()).resolves.toBe("The answer is 4.\n");
    await expect(first.locator("details.reasoning").getAttribute("open")).resolves.toBeNull();
    await expect(first.locator("details.reasoning").textContent()).resolves.toContain(
      "Two and two make four.",
    );

    // The service does not send reasoning lines yet; the page reads them when it does.
    await page.route("**/chat/stream", (route) =>
      route.fulfill({
        contentType: "application/x-ndjson",
        body: [
          { type: "reasoning", content: "Thinking " },
          { type: "reasoning", content: "hard." },
          { type: "fragment", content: "Done." },
          { type: "done", model: "m", predicted_tokens: 1, stop_reason: "stop" },
        ]
          .map((l) => JSON.stringify(l))
          .join("\n"),
      }),
    );
    await page.getByRole("textbox", { name: "Message" }).fill("Again");
    await page.getByRole("button", { name: "Send" }).click();
    const second = page.locator(".turn.assistant").nth(1);
    await second.locator(".usage").filter({ hasText: "1 tokens" }).waitFor();
    await expect(second.locator("details.reasoning summary").textContent()).resolves.toBe("Reasoning");
    await expect(second.locator(".reasoning-text").textContent()).resolves.toBe("Thinking hard.");
    await second.locator("details.reasoning summary").click();
    await expect(second.locator(".reasoning-text").isVisible()).resolves.toBe(true);
  });

  it("copies the conversation to the clipboard", async () => {
    const { page } = await openPlayground({ emulator: { preload: ["qwen/qwen3-4b-2507"] } });
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await page.getByRole("textbox", { name: "Message" }).fill("Hi");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".turn.assistant .usage").filter({ hasText: "tok/s" }).waitFor();
    await page.getByRole("button", { name: "Copy" }).click();
    await page.getByRole("status").filter({ hasText: "Conversation copied." }).waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    expect(copied).toBe(
      "**You:**\n\nHi\n\n---\n\n**qwen/qwen3-4b-2507:**\n\nHello from qwen/qwen3-4b-2507! You said: Hi\n",
    );
  });

  it("asks for the API key when the service needs one, and keeps it for the tab only", async () => {
    const { page, stack } = await openPlayground({ env: { API_KEYS: "s3cret" }, waitReady: false });
    const dialog = page.getByRole("dialog", { name: "API key" });
    await dialog.waitFor();
    await dialog.getByLabel("API key").fill("wrong");
    await dialog.getByRole("button", { name: "Use key" }).click();
    await dialog.filter({ hasText: "not accepted" }).waitFor();
    await dialog.getByLabel("API key").fill("s3cret");
    await dialog.getByRole("button", { name: "Use key" }).click();
    await page.waitForSelector("body[data-ready]");
    await row(page, "google/gemma-3-1b").getByRole("button", { name: "Load" }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem("lmstudio-service.api-key"))).toBe("s3cret");
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(page.url()).toBe(`${stack.url}/`);

    // A reload in the same tab keeps the key; a chat carries it.
    await page.reload();
    await page.waitForSelector("body[data-ready]");
    await expect(dialog.isVisible()).resolves.toBe(false);
    await page.getByRole("textbox", { name: "Message" }).fill("Hi");
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator(".turn.assistant .usage").filter({ hasText: "tok/s" }).waitFor();
    expect(stack.logs.some((l) => l.includes("s3cret"))).toBe(false);
  });

  it("is small: the first load transfers well under 100 kB", async () => {
    const { page, stack } = await openPlayground({ emulator: { preload: ["qwen/qwen3-4b-2507"] } });
    const sizes: Array<{ url: string; bytes: number }> = [];
    page.on("requestfinished", async (req) => {
      const s = await req.sizes();
      sizes.push({ url: new URL(req.url()).pathname, bytes: s.responseBodySize + s.responseHeadersSize });
    });
    await page.goto(`${stack.url}/`);
    await page.waitForSelector("body[data-ready]");
    await page.waitForLoadState("networkidle");
    const total = sizes.reduce((n, s) => n + s.bytes, 0);
    console.log(`playground first load: ${sizes.length} requests, ${total} bytes transferred`);
    expect(sizes.map((s) => s.url)).not.toContain("/playground/vendor/marked.esm.js");
    expect(total).toBeLessThan(100_000);
  });
});
