/**
 * Several upstreams behind one address: UPSTREAMS_FILE (a JSON file) or LMSTUDIO_HOSTS (a list of
 * LM Studio hosts), else the one upstream that the single-upstream variables describe.
 */

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { z } from "zod";

/** The YAML parser, loaded only to read an UPSTREAMS_FILE: it adds 14 MB of RSS to every service. */
const loadYaml = (): typeof import("yaml") => createRequire(import.meta.url)("yaml");

/** One upstream as the service runs it. */
export interface UpstreamSettings {
  /** How requests pin it (`upstream`, `X-Upstream`) and how /health and the model lists name it. */
  name: string;
  /** `lmstudio`: SDK for models, HTTP for chat; `openai`: any OpenAI-compatible engine. */
  kind: "lmstudio" | "openai";
  openaiBaseUrl: string;
  openaiApiKey: string;
  lmstudioBaseUrl: string;
  lmstudioApiToken: string | undefined;
  /** Chats it runs at once (its parallel capacity); routing prefers upstreams below it. */
  maxConcurrentChats: number | undefined;
  /** Its share of the chats relative to the others (2 = twice as many as a weight-1 upstream). */
  weight: number;
}

/** What an entry inherits when it does not say. */
export interface UpstreamDefaults {
  openaiApiKey: string;
  lmstudioApiToken: string | undefined;
}

const TOKEN = /^sk-lm-[a-zA-Z0-9]{8}:[a-zA-Z0-9]{20}$/;

/** LM Studio serves the SDK websocket on the same host and port as its OpenAI-compatible API. */
export function deriveLmStudioWsUrl(openaiBaseUrl: string): string {
  const url = new URL(openaiBaseUrl);
  const protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return `${protocol}//${url.host}`;
}

const entrySchema = z.strictObject({
  name: z.string({ error: "must be a string" }).regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, {
    error: "must be 1 to 64 letters, digits, '.', '_', ':' or '-' (it is sent in X-Upstream headers)",
  }),
  kind: z
    .enum(["lmstudio", "openai"], {
      error: 'must be "lmstudio" or "openai" (a plain OpenAI-compatible engine)',
    })
    .default("lmstudio"),
  openai_base_url: z
    .url({ protocol: /^https?$/, error: "must be an http:// or https:// URL (e.g. http://gpu1:1234/v1)" })
    .transform((v) => v.replace(/\/+$/, "")),
  openai_api_key: z.string().min(1, "must not be empty").optional(),
  lmstudio_base_url: z
    .url({ protocol: /^wss?$/, error: "must be a ws:// or wss:// URL" })
    .transform((v) => v.replace(/\/+$/, ""))
    .optional(),
  lmstudio_api_token: z
    .string()
    .regex(TOKEN, {
      error: "must be an LM Studio API token, sk-lm-<8 letters or digits>:<20 letters or digits>",
    })
    .optional(),
  max_concurrent_chats: z
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .optional(),
  weight: z.number({ error: "must be a number" }).positive("must be above 0").default(1),
});

const fileSchema = z
  // An array alone is the list: errors then read the same for both forms (upstreams[i].field).
  .preprocess(
    (v) => (Array.isArray(v) ? { upstreams: v } : v),
    z.strictObject(
      { upstreams: z.array(entrySchema, { error: "must be an array of upstreams" }) },
      { error: 'must be {"upstreams": [...]} or an array of upstreams' },
    ),
  )
  .transform((v) => v.upstreams)
  .superRefine((entries, ctx) => {
    if (entries.length === 0) ctx.addIssue({ code: "custom", message: "names no upstream", path: [] });
    const seen = new Set<string>();
    entries.forEach((e, i) => {
      if (seen.has(e.name)) {
        ctx.addIssue({
          code: "custom",
          message: `"${e.name}" is named twice`,
          path: ["upstreams", i, "name"],
        });
      }
      seen.add(e.name);
    });
  });

/** Problems, each naming the entry and the field to fix; empty when the file is good. */
export function readUpstreamsFile(
  path: string,
  defaults: UpstreamDefaults,
): { upstreams: UpstreamSettings[] } | { problems: string[] } {
  const where = `UPSTREAMS_FILE=${JSON.stringify(path)}`;
  if (!existsSync(path)) return { problems: [`${where}: no such file`] };
  // YAML, of which JSON is a subset: one parser for both, which also knows each value's line.
  const { LineCounter, parseDocument } = loadYaml();
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(path, "utf8"), { lineCounter: lines });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map(
        (e) => `${where}: line ${e.linePos?.[0]?.line ?? "?"}: ${e.message.split("\n")[0]}`,
      ),
    };
  }
  const json: unknown = doc.toJS();
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const entries = Array.isArray(json)
      ? json
      : ((json as { upstreams?: unknown } | null)?.upstreams as unknown[] | undefined);
    const lineOf = (issuePath: PropertyKey[]): string => {
      // The value's own line, else the nearest enclosing one (a missing field: its entry's line).
      for (let n = issuePath.length; n >= 0; n--) {
        const node = doc.getIn(issuePath.slice(0, n) as Array<string | number>, true) as
          | { range?: [number, number, number] }
          | undefined;
        if (node?.range) return `line ${lines.linePos(node.range[0]).line}: `;
      }
      return "";
    };
    return {
      problems: parsed.error.issues.map((issue) => {
        // Paths are [index, field] for an array, ["upstreams", index, field] for the object form.
        const inList = issue.path[0] === "upstreams" ? issue.path.slice(1) : issue.path;
        const [index, ...field] = inList;
        const line = lineOf(issue.path);
        if (typeof index !== "number") return `${where}: ${line}${issue.message}`;
        const name = (entries?.[index] as { name?: unknown } | undefined)?.name;
        const label = `upstreams[${index}]${typeof name === "string" ? ` ("${name}")` : ""}`;
        return `${where}: ${line}${label}${field.length ? `.${field.join(".")}` : ""}: ${issue.message}`;
      }),
    };
  }
  return {
    upstreams: parsed.data.map((e) => ({
      name: e.name,
      kind: e.kind,
      openaiBaseUrl: e.openai_base_url,
      openaiApiKey: e.openai_api_key ?? defaults.openaiApiKey,
      lmstudioBaseUrl: e.lmstudio_base_url ?? deriveLmStudioWsUrl(e.openai_base_url),
      lmstudioApiToken: e.lmstudio_api_token ?? defaults.lmstudioApiToken,
      maxConcurrentChats: e.max_concurrent_chats,
      weight: e.weight,
    })),
  };
}

/** LMSTUDIO_HOSTS: LM Studio hosts (`http://gpu1:1234`), each named by its host and port. */
export function hostsToUpstreams(
  hosts: string[],
  defaults: UpstreamDefaults,
): { upstreams: UpstreamSettings[] } | { problems: string[] } {
  const problems: string[] = [];
  const upstreams: UpstreamSettings[] = [];
  for (const host of hosts) {
    let url: URL;
    try {
      url = new URL(host);
      if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http");
    } catch {
      problems.push(`LMSTUDIO_HOSTS: "${host}" must be an http:// or https:// URL (e.g. http://gpu1:1234)`);
      continue;
    }
    const path = url.pathname.replace(/\/+$/, "");
    const openaiBaseUrl = `${url.origin}${path === "" ? "/v1" : path}`;
    if (upstreams.some((u) => u.name === url.host)) {
      problems.push(`LMSTUDIO_HOSTS: "${host}" is listed twice`);
      continue;
    }
    upstreams.push({
      name: url.host,
      kind: "lmstudio",
      openaiBaseUrl,
      openaiApiKey: defaults.openaiApiKey,
      lmstudioBaseUrl: deriveLmStudioWsUrl(openaiBaseUrl),
      lmstudioApiToken: defaults.lmstudioApiToken,
      maxConcurrentChats: undefined,
      weight: 1,
    });
  }
  return problems.length > 0 ? { problems } : { upstreams };
}
