/**
 * What the playground's browser tests share: a headless Chromium per test file, the real service
 * and emulator per test, and probes that read what the page showed. Two files use it, so that the
 * two test workers share the browser tests.
 */
import { createServer } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { EmulatorOptions } from "../emulator/emulator.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

let browser: Browser;
const open: Array<{ stack: Stack; page: Page }> = [];

/** Registers the browser's hooks in the calling test file (once per file: hooks belong to a file). */
export function useBrowser(): void {
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
}

export interface Opened {
  stack: Stack;
  page: Page;
  /** Requests to anything but the service (should stay empty). */
  external: string[];
  /** Errors the page threw or logged. */
  errors: string[];
}

export async function openPlayground(
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

export const row = (page: Page, modelKey: string) => page.getByRole("row").filter({ hasText: modelKey });

/** Records every aria-valuenow a progress bar shows, from now on. */
export async function recordProgress(page: Page): Promise<() => Promise<number[]>> {
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
export async function recordAnswerTexts(page: Page): Promise<() => Promise<string[]>> {
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

export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
