/**
 * Renders docs/playground.png: the playground against the LM Studio emulator, in the same headless
 * Chromium the tests use, with a conversation, an image to send and a model loading.
 * Run with `npm run screenshot`.
 */
import sharp from "sharp";
import { launchBrowser } from "../test/helpers/browser.ts";
import { startStack } from "../test/helpers/stack.ts";

const OUT = new URL("../docs/playground.png", import.meta.url);

const ANSWER = [
  "Stream it as NDJSON: one JSON object per line, written as soon as LM Studio sends each token.",
  "",
  "```bash",
  "curl -N -X POST http://127.0.0.1:8000/chat/stream \\",
  '  -H "Content-Type: application/json" \\',
  '  -d \'{"messages":[{"role":"user","content":"Hi"}]}\'',
  "```",
  "",
  "- `fragment` lines carry the text",
  "- the `done` line carries **usage and timings**",
].join("\n");

const stack = await startStack({
  emulator: {
    preload: ["qwen/qwen3-4b-2507"],
    reply: ANSWER,
    tokensPerChunk: 3,
    loadTimeMs: 120_000,
    loadSteps: 200,
  },
});
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 880 }, colorScheme: "light" });
  await page.goto(`${stack.url}/`);
  await page.waitForSelector("body[data-ready]");

  await page.getByRole("textbox", { name: "Message" }).fill("How do I stream a chat from this service?");
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator(".turn.assistant .usage").filter({ hasText: "tok/s" }).waitFor();

  const photo = await sharp({
    create: { width: 160, height: 160, channels: 3, background: { r: 99, g: 102, b: 241 } },
  })
    .composite([
      {
        input: Buffer.from(
          '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160"><circle cx="110" cy="50" r="26" fill="#fde68a"/><path d="M0 160 L60 80 L100 130 L130 100 L160 160Z" fill="#1e1b4b"/></svg>',
        ),
      },
    ])
    .png()
    .toBuffer();
  await page.getByLabel("Image", { exact: true }).setInputFiles({
    name: "mountains.png",
    mimeType: "image/png",
    buffer: photo,
  });
  await page.getByRole("textbox", { name: "Message" }).fill("What is in this picture?");

  await page
    .getByRole("row")
    .filter({ hasText: "qwen3-vl-4b-instruct" })
    .getByRole("button", { name: "Load" })
    .click();
  await page.waitForFunction(
    () => {
      const bar = document.querySelector('[role="progressbar"]');
      return Number(bar?.getAttribute("aria-valuenow")) >= 42;
    },
    undefined,
    { timeout: 120_000 },
  );
  await page.getByRole("textbox", { name: "Message" }).focus();
  await page.screenshot({ path: OUT.pathname });
  console.log(`wrote ${OUT.pathname}`);
} finally {
  await browser.close();
  await stack.close();
}
