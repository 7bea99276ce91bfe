/**
 * The playground in a real headless Chromium: images, errors in plain words, untrusted output, keys, size.
 * Every check goes through the page as a user would (by role and label), and the emulator says
 * what LM Studio saw.
 */
import { describe, expect, it } from "vitest";
import { PNG_1x1 } from "../helpers/stack.ts";
import { closedPort, openPlayground, row, useBrowser } from "./page-harness.ts";

useBrowser();

describe("the playground page: images, errors, safety, keys", () => {
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
