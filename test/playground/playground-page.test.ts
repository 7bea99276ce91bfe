/**
 * The playground in a real headless Chromium: models, loads with progress, streamed chats, Stop.
 * Every check goes through the page as a user would (by role and label), and the emulator says
 * what LM Studio saw.
 */
import { describe, expect, it } from "vitest";
import { PNG_1x1 } from "../helpers/stack.ts";
import { openPlayground, recordAnswerTexts, recordProgress, row, useBrowser } from "./page-harness.ts";

useBrowser();

describe("the playground page: models and chats", () => {
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
        // Tokens far enough apart for the page to render between them on a loaded machine too
        // (at 60 ms, a CI run under full load once saw only two states).
        chunkDelayMs: 150,
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
});
