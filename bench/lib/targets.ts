/**
 * The processes the bench measures and the requests each target gets: the emulator (direct), the two
 * floors, the service (its /chat, /v1 and /api surfaces are targets of their own) and Portkey.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Pool } from "undici";
import { pool, type RequestSpec } from "./load.ts";
import { type Child, firstLine, freePort, spawnNode, waitForHttp } from "./processes.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const OUT = join(ROOT, "bench", "out");
const PORTKEY_SERVER = join(ROOT, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
const PORTKEY_PRELOAD = join(ROOT, "bench", "portkey-preload.ts");

export const CONCURRENCY = 50;
export const STREAM_CHUNKS = 20;
export const REGULAR = "qwen/qwen3-4b-2507";
export const VISION = "qwen3-vl-4b-instruct";
/** The emulator's reply: 20 words, so 20 content chunks when streamed (one token per chunk). */
export const REPLY = Array.from(
  { length: STREAM_CHUNKS },
  (_, i) => `${i === 0 ? "" : " "}word${i + 1}`,
).join("");
export const LAST_WORD = `word${STREAM_CHUNKS}`;
export const PROMPT = "Benchmark: say twenty words.";
export const PORTKEY_NOTE =
  "started headless on 127.0.0.1 with a preload (bench/portkey-preload.ts) that wraps the global fetch to " +
  "return new Response(r.body, r), because its streaming path needs a mutable Response";

export const TARGET_KEYS = [
  "direct",
  "floor",
  "floor_fastify",
  "service",
  "service_no_metrics",
  "service_v1",
  "service_ollama",
  "portkey",
] as const;
/** `variant_<name>`: another checkout of the service (`--variant name=DIR`), to measure a change before/after. */
export type TargetKey = (typeof TARGET_KEYS)[number] | `variant_${string}`;
export type ByTarget<V> = Partial<Record<TargetKey, V>>;

export interface TargetInfo {
  key: TargetKey;
  label: string;
  color: string;
}

export interface Target extends TargetInfo {
  origin: string;
  child: Child;
  chat: RequestSpec;
  stream: RequestSpec;
  seqPool: Pool;
  c50Pool: Pool;
}

export const H_JSON = { "content-type": "application/json" };
export const DIRECT_HEADERS = { ...H_JSON, authorization: "Bearer lm-studio" };
export const portkeyHeaders = (emulatorOrigin: string) => ({
  ...DIRECT_HEADERS,
  "x-portkey-provider": "openai",
  "x-portkey-custom-host": `${emulatorOrigin}/v1`,
});

const json = (v: unknown) => JSON.stringify(v);

export const openaiSpec = (headers: Record<string, string>, stream: boolean): RequestSpec => ({
  path: "/v1/chat/completions",
  headers,
  body: json({
    model: REGULAR,
    messages: [{ role: "user", content: PROMPT }],
    ...(stream && { stream: true }),
  }),
  expect: stream ? "[DONE]" : LAST_WORD,
});
const serviceBody = json({ messages: [{ role: "user", content: PROMPT }] });
export const referenceChat: RequestSpec = {
  path: "/chat",
  headers: H_JSON,
  body: serviceBody,
  expect: LAST_WORD,
};
export const referenceStream: RequestSpec = {
  path: "/chat/stream",
  headers: H_JSON,
  body: serviceBody,
  expect: '"type":"done"',
};
const ollamaSpec = (stream: boolean): RequestSpec => ({
  path: "/api/chat",
  headers: H_JSON,
  body: json({ model: REGULAR, messages: [{ role: "user", content: PROMPT }], stream }),
  expect: stream ? '"done":true' : LAST_WORD,
});

export function makeTarget(
  info: TargetInfo,
  origin: string,
  child: Child,
  chat: RequestSpec,
  stream: RequestSpec,
): Target {
  return {
    ...info,
    origin,
    child,
    chat,
    stream,
    seqPool: pool(origin, 1),
    c50Pool: pool(origin, CONCURRENCY),
  };
}

// ------------------------------------------------------------------------------------------ processes

export async function startEmulator() {
  const child = spawnNode({
    name: "emulator",
    args: [join(ROOT, "bench", "emulator-host.ts"), JSON.stringify({ reply: REPLY, chunkDelayMs: 0 })],
    cwd: ROOT,
    logPath: join(OUT, "emulator.log"),
    pipeStdout: true,
  });
  const ports = JSON.parse(await firstLine(child)) as { emulator: number; admin: number };
  return { child, origin: `http://127.0.0.1:${ports.emulator}`, admin: `http://127.0.0.1:${ports.admin}` };
}
export type Emulator = Awaited<ReturnType<typeof startEmulator>>;

/** Node's flags from `npm start` (`node <flags> src/main.ts`), so the bench measures what users run. */
export const START_FLAGS: string[] = (() => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  return pkg.scripts.start.split(/\s+/).filter((w) => w.startsWith("--"));
})();

export interface Started {
  child: Child;
  origin: string;
}

export async function startService(
  emulatorOrigin: string,
  name: string,
  env: Record<string, string> = {},
  root = ROOT,
): Promise<Started> {
  const port = await freePort();
  const child = spawnNode({
    name,
    args: [...START_FLAGS, join(root, "src", "main.ts")],
    cwd: root,
    env: {
      OPENAI_BASE_URL: `${emulatorOrigin}/v1`,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "info",
      MAX_CONCURRENT_CHATS: "2000",
      MAX_QUEUED_CHATS: "2000",
      // The bench measures what the service adds, not its queue: no per-model limit either.
      MAX_CHATS_PER_MODEL: "2000",
      API_KEYS: "",
      ...env,
    },
    logPath: join(OUT, `${name}.log`),
  });
  const started = { child, origin: `http://127.0.0.1:${port}` };
  await waitForHttp(started.origin, child);
  return started;
}

export async function startFloor(emulatorOrigin: string, kind: "node" | "fastify"): Promise<Started> {
  const port = await freePort();
  const name = kind === "node" ? "floor" : "floor_fastify";
  const child = spawnNode({
    name,
    args: [join(ROOT, "bench", "floors", `floor-${kind}.ts`), emulatorOrigin, String(port)],
    cwd: ROOT,
    logPath: join(OUT, `${name}.log`),
  });
  const started = { child, origin: `http://127.0.0.1:${port}` };
  await waitForHttp(started.origin, child);
  return started;
}

export async function startPortkey(): Promise<Started> {
  if (!existsSync(PORTKEY_SERVER)) {
    throw new Error(`Portkey's gateway is not installed (${PORTKEY_SERVER}): run npm ci`);
  }
  const port = await freePort();
  const child = spawnNode({
    name: "portkey",
    args: ["--import", PORTKEY_PRELOAD, PORTKEY_SERVER, `--port=${port}`, "--headless"],
    cwd: ROOT,
    logPath: join(OUT, "portkey.log"),
  });
  const started = { child, origin: `http://127.0.0.1:${port}` };
  await waitForHttp(started.origin, child);
  return started;
}

const VARIANT_COLORS = ["#cf222e", "#8250df", "#0550ae", "#953800"];

/** All the targets, their processes started and answering; variants are other checkouts' /chat. */
export async function startTargets(
  emu: Emulator,
  variants: Array<{ name: string; dir: string }> = [],
): Promise<Target[]> {
  const others = await Promise.all(
    variants.map(async (v, i) => {
      const started = await startService(emu.origin, `variant_${v.name}`, {}, v.dir);
      return makeTarget(
        {
          key: `variant_${v.name}`,
          label: `variant ${v.name} /chat`,
          color: VARIANT_COLORS[i % 4] ?? "#000",
        },
        started.origin,
        started.child,
        referenceChat,
        referenceStream,
      );
    }),
  );
  const [svc, svcNoMetrics, floor, floorFastify, pk] = await Promise.all([
    startService(emu.origin, "service"),
    startService(emu.origin, "service_no_metrics", { METRICS_ENABLED: "false" }),
    startFloor(emu.origin, "node"),
    startFloor(emu.origin, "fastify"),
    startPortkey(),
  ]);
  const pkHeaders = portkeyHeaders(emu.origin);
  return [
    makeTarget(
      { key: "direct", label: "direct (emulator)", color: "#8c8c8c" },
      emu.origin,
      emu.child,
      openaiSpec(DIRECT_HEADERS, false),
      openaiSpec(DIRECT_HEADERS, true),
    ),
    makeTarget(
      { key: "floor", label: "floor (node:http + undici)", color: "#2da44e" },
      floor.origin,
      floor.child,
      openaiSpec(DIRECT_HEADERS, false),
      openaiSpec(DIRECT_HEADERS, true),
    ),
    makeTarget(
      { key: "floor_fastify", label: "Fastify floor", color: "#116329" },
      floorFastify.origin,
      floorFastify.child,
      openaiSpec(DIRECT_HEADERS, false),
      openaiSpec(DIRECT_HEADERS, true),
    ),
    makeTarget(
      { key: "service", label: "service /chat", color: "#1f6feb" },
      svc.origin,
      svc.child,
      referenceChat,
      referenceStream,
    ),
    makeTarget(
      { key: "service_no_metrics", label: "service /chat, METRICS_ENABLED=false", color: "#a371f7" },
      svcNoMetrics.origin,
      svcNoMetrics.child,
      referenceChat,
      referenceStream,
    ),
    makeTarget(
      { key: "service_v1", label: "service /v1", color: "#79b8ff" },
      svc.origin,
      svc.child,
      openaiSpec(DIRECT_HEADERS, false),
      openaiSpec(DIRECT_HEADERS, true),
    ),
    makeTarget(
      { key: "service_ollama", label: "service /api/chat", color: "#bf8700" },
      svc.origin,
      svc.child,
      ollamaSpec(false),
      ollamaSpec(true),
    ),
    makeTarget(
      { key: "portkey", label: "Portkey gateway", color: "#e36209" },
      pk.origin,
      pk.child,
      openaiSpec(pkHeaders, false),
      openaiSpec(pkHeaders, true),
    ),
    ...others,
  ];
}
