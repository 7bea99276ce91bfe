/**
 * Headless Chromium for the browser tests, on any machine: Debian's /usr/bin/chromium when it is
 * installed, else the Chromium shipped inside the @sparticuz/chromium devDependency (unpacked from
 * node_modules into the temp directory on first use; nothing is downloaded).
 */
import { existsSync } from "node:fs";
import sparticuz from "@sparticuz/chromium";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/** Keep the browser off the network: no updates, no sync, no background requests, no QUIC. */
export const OFFLINE_ARGS = [
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--disable-default-apps",
  "--disable-domain-reliability",
  "--disable-client-side-phishing-detection",
  "--no-first-run",
  "--no-default-browser-check",
  "--no-pings",
  "--metrics-recording-only",
];

/** @sparticuz/chromium's flags are for AWS Lambda; these tests load only our own pages. */
const NOT_FOR_US = ["--disable-web-security", "--allow-running-insecure-content"];

export interface TestBrowser {
  /** Which Chromium runs: "debian" (/usr/bin/chromium) or "sparticuz" (@sparticuz/chromium). */
  source: "debian" | "sparticuz";
  browser: Browser;
  /**
   * A new tab of the given size. Every tab shares one browser context: @sparticuz/chromium runs
   * single-process, where closing a context closes the whole browser.
   */
  newPage(viewport: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const debian = existsSync(DEBIAN_CHROMIUM);
  const browser = await chromium.launch(
    debian
      ? {
          executablePath: DEBIAN_CHROMIUM,
          headless: true,
          args: ["--no-sandbox", "--disable-gpu", ...OFFLINE_ARGS],
        }
      : {
          executablePath: await sparticuz.executablePath(),
          headless: true,
          args: [...sparticuz.args.filter((a) => !NOT_FOR_US.includes(a)), ...OFFLINE_ARGS],
        },
  );
  let context: BrowserContext | undefined;
  return {
    source: debian ? "debian" : "sparticuz",
    browser,
    async newPage(viewport) {
      context ??= await browser.newContext();
      const page = await context.newPage();
      await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      await browser.close();
    },
  };
}
