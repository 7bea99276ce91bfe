/**
 * Runs the LM Studio emulator on its own:
 *   node test/emulator/cli.ts [--port 1234] [--profile 0.3|0.4] [--catalogue FILE] [--preload key1,key2]
 *                             [--no-jit] [--no-auto-evict] [--parallel N] [--require-token sk-lm-…]
 *                             [--chunk-delay-ms N] [--first-chunk-delay-ms N] [--load-ms N] [--load-steps N]
 *                             [--tokens-per-chunk N] [--reply "fixed text" | --reply-words N]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { LmStudioEmulator, type Profile, parseCatalogue } from "./emulator.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "1234" },
    profile: { type: "string" },
    catalogue: { type: "string" },
    jit: { type: "boolean" },
    "no-jit": { type: "boolean", default: false },
    "no-auto-evict": { type: "boolean", default: false },
    parallel: { type: "string" },
    "require-token": { type: "string" },
    "chunk-delay-ms": { type: "string" },
    "first-chunk-delay-ms": { type: "string" },
    "load-ms": { type: "string" },
    "load-steps": { type: "string" },
    "tokens-per-chunk": { type: "string" },
    preload: { type: "string" },
    reply: { type: "string" },
    "reply-words": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: node test/emulator/cli.ts [--port 1234] [--profile 0.3|0.4] [--catalogue FILE] [--preload k1,k2]\n" +
      "                                 [--no-jit] [--no-auto-evict] [--parallel N] [--require-token sk-lm-…]\n" +
      "                                 [--chunk-delay-ms N] [--first-chunk-delay-ms N] [--load-ms N] [--load-steps N]\n" +
      '                                 [--tokens-per-chunk N] [--reply "fixed text" | --reply-words N]\n' +
      "--catalogue FILE: a JSON array of {modelKey, publisher, path, type, vision, trainedForToolUse,\n" +
      "                  maxContextLength, paramsString, architecture}",
  );
  process.exit(0);
}

function num(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`not a number: ${v}`);
  return n;
}

const replyWords = num(values["reply-words"]);
const reply =
  replyWords !== undefined
    ? Array.from({ length: replyWords }, (_, i) => `word${i}`).join(" ")
    : values.reply;

const profile = values.profile;
if (profile !== undefined && profile !== "0.3" && profile !== "0.4")
  throw new Error("--profile is 0.3 or 0.4");
const jit = !values["no-jit"];

const emu = await LmStudioEmulator.start({
  reply,
  port: num(values.port) ?? 1234,
  profile: profile as Profile | undefined,
  models: values.catalogue === undefined ? undefined : parseCatalogue(readFileSync(values.catalogue, "utf8")),
  jit,
  autoEvict: !values["no-auto-evict"],
  parallel: num(values.parallel),
  requireToken: values["require-token"],
  chunkDelayMs: num(values["chunk-delay-ms"]),
  firstChunkDelayMs: num(values["first-chunk-delay-ms"]),
  loadTimeMs: num(values["load-ms"]),
  loadSteps: num(values["load-steps"]),
  tokensPerChunk: num(values["tokens-per-chunk"]),
  preload: values.preload
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s !== ""),
  // a long-running emulator (benchmarks) must not grow without bound
  maxChatRecords: 10_000,
});

console.log(`LM Studio emulator listening
  HTTP (OpenAI-compatible): ${emu.openaiBaseUrl}
  SDK websocket baseUrl:    ${emu.wsUrl}
  greeting:                 ${emu.httpUrl}/lmstudio-greeting
  LM Studio ${emu.version} (profile ${profile ?? "0.4"}); JIT: ${jit ? "on" : "off"}; loaded: ${
    emu
      .loaded()
      .map((l) => l.identifier)
      .join(", ") || "(none)"
  }`);

let stopping = false;
const shutdown = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping (${emu.chats.length} chats, ${emu.loads.length} loads recorded)`);
  void emu.stop().then(() => process.exit(0));
};
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));
