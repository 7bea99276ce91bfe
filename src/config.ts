import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { z } from "zod";
import {
  deriveLmStudioWsUrl,
  hostsToUpstreams,
  readUpstreamsFile,
  type UpstreamSettings,
} from "./config-upstreams.ts";

export { deriveLmStudioWsUrl, type UpstreamSettings };

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
  .transform((v) => v === "true" || v === "1" || v === "yes");

const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" })
  .transform((v) => v.replace(/\/+$/, ""));

const wsUrl = z
  .url({ protocol: /^wss?$/, error: "must be a ws:// or wss:// URL" })
  .transform((v) => v.replace(/\/+$/, ""));

const list = z.string().transform((v) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

/** `alias=model,alias=model`: names that tools hard-code, mapped to the models that answer them. */
const aliases = list.transform((items, ctx) => {
  const map = new Map<string, string>();
  for (const item of items) {
    const eq = item.indexOf("=");
    const alias = item.slice(0, eq).trim();
    const target = item.slice(eq + 1).trim();
    if (eq <= 0 || alias.length === 0 || target.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: `"${item}" is not alias=model (e.g. gpt-4o-mini=qwen/qwen3-4b-2507)`,
      });
      return z.NEVER;
    }
    map.set(alias, target);
  }
  return map;
});

/** Every setting the service reads, with its default. The names are the environment variables. */
export const envSchema = z.object({
  UPSTREAM_KIND: z
    .enum(["lmstudio", "openai"], {
      error: 'must be "lmstudio" or "openai" (a plain OpenAI-compatible engine)',
    })
    .default("lmstudio"),
  OPENAI_BASE_URL: httpUrl.default("http://localhost:1234/v1"),
  OPENAI_API_KEY: z.string().min(1).default("lm-studio"),
  LMSTUDIO_BASE_URL: wsUrl.optional(),
  LMSTUDIO_API_TOKEN: z
    .string()
    .regex(/^sk-lm-[a-zA-Z0-9]{8}:[a-zA-Z0-9]{20}$/, {
      error:
        "must be an LM Studio API token, sk-lm-<8 letters or digits>:<20 letters or digits> (LM Studio's Developer settings)",
    })
    .optional(),
  UPSTREAMS_FILE: z.string().min(1).optional(),
  LMSTUDIO_HOSTS: list.optional(),
  UPSTREAM_CHECK_INTERVAL_MS: int(50).default(5_000),
  HOST: z.string().min(1).default("127.0.0.1"),
  PORT: int(0, 65535).default(8000),
  CORS_ORIGINS: list.default(["*"]),
  DEFAULT_REGULAR_MODEL: z.string().min(1).default("qwen/qwen3-4b-2507"),
  DEFAULT_VISION_MODEL: z.string().min(1).default("qwen3-vl-4b-instruct"),
  MODEL_ALIASES: aliases.default(new Map()),
  MAX_IMAGE_BYTES: int(1).default(20 * 1024 * 1024),
  MAX_BODY_BYTES: int(1024).optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  LOG_FORMAT: z.enum(["json", "pretty"], { error: 'must be "json" or "pretty"' }).default("json"),
  API_KEYS: list.default([]),
  AUTO_LOAD: bool.default(true),
  AUTO_LOAD_EXCLUSIVE: bool.default(false),
  MODEL_TTL_SECONDS: int(1).optional(),
  LOADED_MODELS_CACHE_MS: int(0, 60_000).default(1_000),
  MAX_CONCURRENT_CHATS: int(1).default(64),
  MAX_QUEUED_CHATS: int(0).default(256),
  MAX_CHATS_PER_MODEL: int(1).default(4),
  QUEUE_TIMEOUT_MS: int(1).default(30_000),
  CONNECT_TIMEOUT_MS: int(1).default(5_000),
  FIRST_TOKEN_TIMEOUT_MS: int(1).default(120_000),
  CHUNK_TIMEOUT_MS: int(1).default(60_000),
  SDK_TIMEOUT_MS: int(1).default(10_000),
  LOAD_TIMEOUT_MS: int(1).default(600_000),
  SHUTDOWN_GRACE_MS: int(0).default(10_000),
  METRICS_ENABLED: bool.default(true),
  METRICS_PUBLIC: bool.default(false),
});

export interface Config {
  upstreamKind: "lmstudio" | "openai";
  openaiBaseUrl: string;
  openaiApiKey: string;
  lmstudioBaseUrl: string;
  lmstudioApiToken: string | undefined;
  host: string;
  port: number;
  corsOrigins: string[];
  defaultRegularModel: string;
  defaultVisionModel: string;
  /** Alias → model key; an alias is accepted wherever a model name is. */
  modelAliases: Map<string, string>;
  maxImageBytes: number;
  maxBodyBytes: number;
  logLevel: string;
  /** JSON lines (default), or readable lines for a terminal. */
  logFormat: "json" | "pretty";
  apiKeys: string[];
  autoLoad: boolean;
  autoLoadExclusive: boolean;
  modelTtlSeconds: number | undefined;
  loadedModelsCacheMs: number;
  maxConcurrentChats: number;
  maxQueuedChats: number;
  maxChatsPerModel: number;
  queueTimeoutMs: number;
  connectTimeoutMs: number;
  firstTokenTimeoutMs: number;
  chunkTimeoutMs: number;
  sdkTimeoutMs: number;
  loadTimeoutMs: number;
  shutdownGraceMs: number;
  /** GET /metrics and the counting behind it. */
  metricsEnabled: boolean;
  /** /metrics answers without an API key even when API_KEYS is set. */
  metricsPublic: boolean;
  /**
   * Every upstream: the one the variables above describe, or those of UPSTREAMS_FILE or
   * LMSTUDIO_HOSTS. With one, the service runs it directly; with several, it routes among them.
   */
  upstreams: UpstreamSettings[];
  /** How often each upstream of several is checked (a failed one is retried sooner, with backoff). */
  upstreamCheckIntervalMs: number;
}

/**
 * Room for one image of `maxImageBytes` as base64 (4 bytes per 3), plus 1 MiB for the text: a
 * large constant would let every queued or running chat hold a body far beyond any useful one.
 */
export const defaultBodyLimit = (maxImageBytes: number): number =>
  Math.ceil((maxImageBytes * 4) / 3) + 1024 * 1024;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Reads `.env` (when present) under the real environment: a variable set in the environment wins,
 * as with FastAPI's pydantic settings. Empty values count as unset.
 */
export function readEnv(envFile = ".env", env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const fromFile = existsSync(envFile) ? parseEnv(readFileSync(envFile, "utf8")) : {};
  const merged: Record<string, string> = {};
  for (const source of [fromFile, env]) {
    for (const [key, value] of Object.entries(source)) {
      if (value !== undefined && value !== "") merged[key] = value;
    }
  }
  return merged;
}

export function loadConfig(env: Record<string, string | undefined> = readEnv()): Config {
  const known = Object.fromEntries(
    Object.keys(envSchema.shape).flatMap((key) => {
      const value = env[key];
      return value === undefined || value === "" ? [] : [[key, value]];
    }),
  );
  const parsed = envSchema.safeParse(known);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? "?");
        return `${key}=${JSON.stringify(known[key])}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  const lmstudioBaseUrl = e.LMSTUDIO_BASE_URL ?? deriveLmStudioWsUrl(e.OPENAI_BASE_URL);
  const upstreams = configuredUpstreams(e, lmstudioBaseUrl);
  if ("problems" in upstreams) throw new ConfigError(upstreams.problems);
  return {
    upstreamKind: e.UPSTREAM_KIND,
    openaiBaseUrl: e.OPENAI_BASE_URL,
    openaiApiKey: e.OPENAI_API_KEY,
    lmstudioBaseUrl,
    lmstudioApiToken: e.LMSTUDIO_API_TOKEN,
    host: e.HOST,
    port: e.PORT,
    corsOrigins: e.CORS_ORIGINS,
    defaultRegularModel: e.DEFAULT_REGULAR_MODEL,
    defaultVisionModel: e.DEFAULT_VISION_MODEL,
    modelAliases: e.MODEL_ALIASES,
    maxImageBytes: e.MAX_IMAGE_BYTES,
    maxBodyBytes: e.MAX_BODY_BYTES ?? defaultBodyLimit(e.MAX_IMAGE_BYTES),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    apiKeys: e.API_KEYS,
    autoLoad: e.AUTO_LOAD,
    autoLoadExclusive: e.AUTO_LOAD_EXCLUSIVE,
    modelTtlSeconds: e.MODEL_TTL_SECONDS,
    loadedModelsCacheMs: e.LOADED_MODELS_CACHE_MS,
    maxConcurrentChats: e.MAX_CONCURRENT_CHATS,
    maxQueuedChats: e.MAX_QUEUED_CHATS,
    maxChatsPerModel: e.MAX_CHATS_PER_MODEL,
    queueTimeoutMs: e.QUEUE_TIMEOUT_MS,
    connectTimeoutMs: e.CONNECT_TIMEOUT_MS,
    firstTokenTimeoutMs: e.FIRST_TOKEN_TIMEOUT_MS,
    chunkTimeoutMs: e.CHUNK_TIMEOUT_MS,
    sdkTimeoutMs: e.SDK_TIMEOUT_MS,
    loadTimeoutMs: e.LOAD_TIMEOUT_MS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    metricsEnabled: e.METRICS_ENABLED,
    metricsPublic: e.METRICS_PUBLIC,
    upstreams: upstreams.upstreams,
    upstreamCheckIntervalMs: e.UPSTREAM_CHECK_INTERVAL_MS,
  };
}

/** UPSTREAMS_FILE, LMSTUDIO_HOSTS, or the one upstream of the single-upstream variables. */
function configuredUpstreams(
  e: z.infer<typeof envSchema>,
  lmstudioBaseUrl: string,
): { upstreams: UpstreamSettings[] } | { problems: string[] } {
  const defaults = { openaiApiKey: e.OPENAI_API_KEY, lmstudioApiToken: e.LMSTUDIO_API_TOKEN };
  if (e.UPSTREAMS_FILE !== undefined && e.LMSTUDIO_HOSTS !== undefined) {
    return { problems: ["UPSTREAMS_FILE and LMSTUDIO_HOSTS both name upstreams: set one of them"] };
  }
  if (e.UPSTREAMS_FILE !== undefined) return readUpstreamsFile(e.UPSTREAMS_FILE, defaults);
  if (e.LMSTUDIO_HOSTS !== undefined && e.LMSTUDIO_HOSTS.length > 0) {
    return hostsToUpstreams(e.LMSTUDIO_HOSTS, defaults);
  }
  return {
    upstreams: [
      {
        name: new URL(e.OPENAI_BASE_URL).host,
        kind: e.UPSTREAM_KIND,
        openaiBaseUrl: e.OPENAI_BASE_URL,
        openaiApiKey: e.OPENAI_API_KEY,
        lmstudioBaseUrl,
        lmstudioApiToken: e.LMSTUDIO_API_TOKEN,
        maxConcurrentChats: undefined,
        weight: 1,
      },
    ],
  };
}
