import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

const DEBIAN_CHROMIUM = "/usr/bin/chromium";

/** No updates, no sync, no pings: a test browser must reach nothing but the page it is given. */
const QUIET = [
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
  "--disable-quic",
];

/**
 * @sparticuz/chromium's flags suit AWS Lambda: one process (which dies when a second browser
 * context closes) and web security off. Tests keep the browser's real security model.
 */
const LAMBDA_ONLY = new Set([
  "--single-process",
  "--disable-web-security",
  "--allow-running-insecure-content",
]);

/**
 * A headless Chromium: Debian's /usr/bin/chromium when present, else the one @sparticuz/chromium
 * unpacks (no system packages needed).
 */
export async function launchBrowser(): Promise<Browser> {
  if (existsSync(DEBIAN_CHROMIUM)) {
    return chromium.launch({
      executablePath: DEBIAN_CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", ...QUIET],
    });
  }
  const { default: sparticuz } = await import("@sparticuz/chromium");
  unpacked ??= unpackChromium(sparticuz);
  return chromium.launch({
    executablePath: await unpacked,
    headless: true,
    args: [...sparticuz.args.filter((a) => !LAMBDA_ONLY.has(a)), ...QUIET],
  });
}

const PREFIX = "lmstudio-service-chromium-";

/** Test workers may be killed without an exit event: their unpacked browsers go when they are gone. */
function removeOrphans(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(name.startsWith(PREFIX) ? name.slice(PREFIX.length).split("-")[0] : Number.NaN);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

/** Once per process: every browser test file in a worker launches the same unpacked binary. */
let unpacked: Promise<string> | undefined;

/**
 * Unpacks @sparticuz/chromium's browser into a directory of this process's own. It unpacks into
 * the temp directory and takes an existing `chromium` file there as finished, so two test
 * workers starting at once on a fresh machine would run a half-written binary.
 */
async function unpackChromium(sparticuz: { executablePath(): Promise<string> }): Promise<string> {
  removeOrphans();
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await sparticuz.executablePath();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
}

export interface TestBrowser {
  /** Which Chromium runs: "debian" (/usr/bin/chromium) or "sparticuz" (@sparticuz/chromium). */
  source: "debian" | "sparticuz";
  browser: Browser;
  /** A new tab of the given size, in a context of its own. */
  newPage(viewport: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

/** The same browser, with the tabs the docs test asks for. */
export async function launchTestBrowser(): Promise<TestBrowser> {
  const browser = await launchBrowser();
  return {
    source: existsSync(DEBIAN_CHROMIUM) ? "debian" : "sparticuz",
    browser,
    async newPage(viewport) {
      const context = await browser.newContext({ viewport });
      return context.newPage();
    },
    close: () => browser.close(),
  };
}
