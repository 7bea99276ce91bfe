import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { launchTestBrowser, type TestBrowser } from "../helpers/browser.ts";
import { countColour, decodePng, distinctColours, type Png } from "../helpers/png.ts";
import { postJson, type Stack, startStack } from "../helpers/stack.ts";
import { expectNoWarnings, getJson, type Json } from "./helpers.ts";

/** Swagger UI's colours for the method badges: POST green, GET blue. */
const POST_GREEN = "#49cc90";
const GET_BLUE = "#61affe";
const METHODS = ["get", "post", "put", "patch", "delete", "head", "options"];
/** Every endpoint of the reference README. */
const REFERENCE = [
  "GET /health",
  "GET /help",
  "GET /models",
  "POST /models/load",
  "POST /models/unload",
  "POST /chat",
  "POST /chat/stream",
  "POST /chat/regular",
  "POST /chat/regular/stream",
  "POST /chat/vision",
  "POST /chat/vision/stream",
];

let stack: Stack;
let help: Json;
let openapi: Json;

beforeAll(async () => {
  stack = await startStack({ emulator: { preload: ["qwen/qwen3-4b-2507", "qwen3-vl-4b-instruct"] } });
  help = (await getJson(`${stack.url}/help`)).json;
  openapi = (await getJson(`${stack.url}/openapi.json`)).json;
});
afterEach(() => expectNoWarnings(stack.emu));
afterAll(async () => {
  await stack.close();
});

const openapiRoutes = (): string[] =>
  Object.entries(openapi.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );

describe("GET /help", () => {
  it("is JSON naming the service and its docs", async () => {
    const r = await getJson(`${stack.url}/help`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    expect(r.json.name).toBe("lmstudio-service");
    expect(typeof r.json.version).toBe("string");
    expect(r.json.docs).toEqual({ openapi: "/openapi.json", interactive: "/docs" });
  });

  it("lists every endpoint of the reference with method, path and summary", () => {
    const listed = help.endpoints.map((e: Json) => `${e.method} ${e.path}`);
    for (const route of REFERENCE) expect(listed).toContain(route);
    for (const e of help.endpoints) {
      expect(typeof e.method).toBe("string");
      expect(e.path).toMatch(/^\//);
      expect(typeof e.summary).toBe("string");
      expect(e.summary.length).toBeGreaterThan(5);
    }
    expect(new Set(listed).size).toBe(listed.length);
  });

  it("lists exactly the routes of /openapi.json (generated, not a hand-kept copy)", () => {
    const listed = help.endpoints.map((e: Json) => `${e.method} ${e.path}`).sort();
    expect(listed).toEqual(openapiRoutes().sort());
    for (const e of help.endpoints) {
      expect(e.summary).toBe(openapi.paths[e.path][e.method.toLowerCase()].summary);
    }
  });

  it("has an example body for every POST route, the same as the OpenAPI document's", () => {
    const posts = help.endpoints.filter((e: Json) => e.method === "POST");
    expect(posts.length).toBeGreaterThanOrEqual(8);
    for (const e of posts) {
      expect(e.example, `${e.path} has an example`).toBeTypeOf("object");
      expect(e.example).not.toBeNull();
      const media = openapi.paths[e.path].post.requestBody.content["application/json"];
      const documented = media.example ?? media.examples?.[Object.keys(media.examples)[0] as string]?.value;
      expect(e.example).toEqual(documented);
    }
  });

  it("the vision endpoints' examples carry an image", () => {
    for (const path of ["/chat/vision", "/chat/vision/stream"]) {
      const e = help.endpoints.find((x: Json) => x.path === path);
      const images = (e.example.messages as Json[]).flatMap((m) => m.images ?? []);
      expect(images.length, `${path} example has an image`).toBeGreaterThan(0);
      expect(images[0]).toHaveProperty("data_base64");
      expect(images[0]).toHaveProperty("mime_type");
    }
  });

  it("every example body is accepted by its endpoint", async () => {
    const posts = help.endpoints.filter((e: Json) => e.method === "POST");
    // Load before unload, so that the unload example finds its model.
    posts.sort(
      (a: Json, b: Json) => Number(a.path === "/models/unload") - Number(b.path === "/models/unload"),
    );
    for (const e of posts) {
      const r = await postJson(`${stack.url}${e.path}`, e.example);
      expect(r.status, `${e.path}: ${r.text.slice(0, 300)}`).toBe(200);
    }
  });
});

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3 document with every reference path", async () => {
    const r = await getJson(`${stack.url}/openapi.json`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    expect(String(r.json.openapi)).toMatch(/^3\.\d+\.\d+$/);
    expect(r.json.info.title).toBe("lmstudio-service");
    const routes = openapiRoutes();
    for (const route of REFERENCE) expect(routes).toContain(route);
  });

  it("is the same document the interactive page loads", async () => {
    const r = await getJson(`${stack.url}/docs/json`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json.paths).sort()).toEqual(Object.keys(openapi.paths).sort());
  });

  it("documents the chat request schema with the reference's ranges", () => {
    for (const path of ["/chat", "/chat/stream", "/chat/regular", "/chat/vision/stream"]) {
      const schema = openapi.paths[path].post.requestBody.content["application/json"].schema;
      expect(schema.required).toContain("messages");
      const config = schema.properties.config.properties;
      expect(config.temperature).toMatchObject({ type: "number", minimum: 0, maximum: 2 });
      expect(config.topP).toMatchObject({ type: "number", minimum: 0, maximum: 1 });
      expect(config.presencePenalty).toMatchObject({ minimum: -2, maximum: 2 });
      expect(config.frequencyPenalty).toMatchObject({ minimum: -2, maximum: 2 });
      expect(config.maxTokens).toMatchObject({ type: "integer", minimum: 1 });
      const message = schema.properties.messages.items;
      expect(message.properties.role.enum).toEqual(["system", "user", "assistant"]);
      const image = message.properties.images.items;
      // mime_type is optional: a data URL names its own type.
      expect(image.required).toEqual(["data_base64"]);
    }
  });

  it("documents the model management bodies", () => {
    const load = openapi.paths["/models/load"].post.requestBody.content["application/json"].schema;
    expect(load.required).toContain("model_key");
    expect(Object.keys(load.properties)).toEqual(
      expect.arrayContaining(["model_key", "exclusive", "identifier", "context_length", "ttl"]),
    );
    const unload = openapi.paths["/models/unload"].post.requestBody.content["application/json"].schema;
    expect(Object.keys(unload.properties)).toEqual(expect.arrayContaining(["model_key", "unload_all"]));
  });

  it("documents the responses: chat answer, NDJSON stream and the 422 shape", () => {
    const chat = openapi.paths["/chat"].post.responses;
    const ok = chat["200"].content["application/json"].schema;
    expect(ok.required).toEqual(
      expect.arrayContaining(["model", "content", "stop_reason", "predicted_tokens"]),
    );
    expect(chat["422"]).toBeDefined();
    expect(chat["503"]).toBeDefined();
    const stream = openapi.paths["/chat/stream"].post.responses["200"].content;
    expect(Object.keys(stream)).toContain("application/x-ndjson");
    const models = openapi.paths["/models"].get.responses["200"].content["application/json"].schema;
    const item = models.properties.models.items;
    expect(Object.keys(item.properties).sort()).toEqual(
      [
        "context_length",
        "device",
        "display_name",
        "identifier",
        "max_context_length",
        "model_key",
        "size_bytes",
        "trained_for_tool_use",
        "type",
        "upstream",
        "vision",
      ].sort(),
    );
  });
});

describe("GET /docs", () => {
  it("serves an HTML page", async () => {
    const res = await fetch(`${stack.url}/docs`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(html).toMatch(/swagger-ui/i);
    expect(html).not.toMatch(
      /https?:\/\/(?!127\.0\.0\.1|localhost)[a-z0-9.-]+\.[a-z]{2,}\/[^"']*\.(js|css)/i,
    );
  });

  describe("in a real headless Chromium", () => {
    let browser: TestBrowser;
    beforeAll(async () => {
      browser = await launchTestBrowser();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });

    it("renders Swagger UI, styled, listing every endpoint, with nothing fetched from the internet", async () => {
      const page = await browser.newPage({ width: 1280, height: 2400 });
      const external: string[] = [];
      const failed: string[] = [];
      const consoleErrors: string[] = [];
      const origin = new URL(stack.url).origin;
      page.on("request", (req) => {
        const url = req.url();
        if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:"))
          external.push(url);
      });
      page.on("requestfailed", (req) => failed.push(`${req.url()} ${req.failure()?.errorText}`));
      page.on("console", (msg) => {
        if (msg.type() === "error") consoleErrors.push(msg.text());
      });
      const res = await page.goto(`${stack.url}/docs`, { waitUntil: "networkidle" });
      expect(res?.status()).toBe(200);
      await page.waitForSelector(".swagger-ui .opblock", { timeout: 15_000 });
      await page.waitForSelector(`[data-path="/chat/vision/stream"]`, { timeout: 15_000 });

      const title = await page.locator(".swagger-ui .info .title").textContent();
      expect(title).toContain("lmstudio-service");
      const paths = await page.locator(".opblock-summary-path").allTextContents();
      const shown = paths.map((p) => p.replace(/\u200b/g, "").trim());
      for (const route of REFERENCE) {
        const [method, path] = route.split(" ") as [string, string];
        expect(shown, `${route} is listed`).toContain(path);
        const block = page.locator(
          `.opblock-${method.toLowerCase()} .opblock-summary-path[data-path="${path}"]`,
        );
        expect(await block.count(), `${route} is listed as ${method}`).toBeGreaterThan(0);
      }
      await expect(page.getByText("/models/load", { exact: true }).first().isVisible()).resolves.toBe(true);
      await expect(page.getByText("/chat/vision/stream", { exact: true }).first().isVisible()).resolves.toBe(
        true,
      );

      // What it paints, not only what is in the DOM: a styled page (far more colours than a blank
      // or bare-text screen), and the method badges in Swagger UI's colours, so its stylesheet was
      // served and applied.
      const top = decodePng(await page.screenshot({ clip: { x: 0, y: 0, width: 1280, height: 800 } }));
      expect([top.width, top.height]).toEqual([1280, 800]);
      expect(distinctColours(top)).toBeGreaterThan(50);
      const badge = async (method: string, path: string) =>
        decodePng(
          await page
            .locator(
              `.opblock-${method}:has(.opblock-summary-path[data-path="${path}"]) .opblock-summary-method`,
            )
            .first()
            .screenshot(),
        );
      const area = (png: Png) => png.width * png.height;
      const postBadge = await badge("post", "/chat/regular");
      const getBadge = await badge("get", "/models");
      expect(area(postBadge)).toBeGreaterThan(100);
      expect(countColour(postBadge, POST_GREEN) / area(postBadge)).toBeGreaterThan(0.5);
      expect(countColour(postBadge, GET_BLUE)).toBe(0);
      expect(countColour(getBadge, GET_BLUE) / area(getBadge)).toBeGreaterThan(0.5);
      expect(countColour(getBadge, POST_GREEN)).toBe(0);

      expect(external).toEqual([]);
      expect(failed).toEqual([]);
      expect(consoleErrors).toEqual([]);
      await page.close();
    }, 60_000);

    it("expands an endpoint and shows its request schema", async () => {
      const page = await browser.newPage({ width: 1280, height: 1600 });
      await page.goto(`${stack.url}/docs`);
      await page.locator('.opblock-post .opblock-summary-path[data-path="/chat/regular"]').first().click();
      const body = page.locator(".opblock.is-open .opblock-section-request-body");
      await body.waitFor({ timeout: 15_000 });
      const text = (await body.textContent()) ?? "";
      expect(text).toMatch(/messages/);
      expect(text).toMatch(/What is 2\+2\?/);
      await page.close();
    }, 60_000);
  });
});
