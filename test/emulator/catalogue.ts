/**
 * Model catalogue of the LM Studio emulator: the "downloaded" models and the info objects
 * (SDK 2.0.0 superset, see test/emulator/lmstudio-protocol.md section 3.7) built from them.
 */

export interface CatalogueModel {
  modelKey: string;
  type?: "llm" | "embedding"; // default "llm"
  displayName?: string;
  publisher?: string;
  architecture?: string;
  paramsString?: string;
  vision?: boolean;
  trainedForToolUse?: boolean;
  maxContextLength?: number;
  sizeBytes?: number;
  /** the real on-disk path, relative to the models folder (default: `<publisher>/<Base>-GGUF/<base>-Q4_K_M.gguf`) */
  path?: string;
  /**
   * The LM Link device the model lives on (LM Studio 0.4's `deviceIdentifier`, lmstudio-js
   * `ModelInfoBase`); null or absent: this machine.
   */
  deviceIdentifier?: string | null;
}

export type ModelType = "llm" | "embedding";

/** A catalogue entry with every field resolved, plus its precomputed ModelInfo. */
export interface ResolvedModel {
  modelKey: string;
  type: ModelType;
  path: string;
  publisher: string;
  vision: boolean;
  trainedForToolUse: boolean;
  maxContextLength: number;
  defaultContextLength: number;
  /** ModelInfo as sent over the wire (LLMInfo or EmbeddingModelInfo). */
  info: Record<string, unknown>;
}

/** Models LM Studio's catalogue offers for download that are not downloaded at start. */
export const HUB_CATALOGUE: readonly CatalogueModel[] = [
  {
    modelKey: "qwen/qwen3-8b",
    type: "llm",
    displayName: "Qwen3 8B",
    publisher: "qwen",
    architecture: "qwen3",
    paramsString: "8B",
    trainedForToolUse: true,
    maxContextLength: 40960,
    sizeBytes: 5_030_000_000,
  },
];

export const DEFAULT_CATALOGUE: readonly CatalogueModel[] = [
  {
    modelKey: "qwen/qwen3-4b-2507",
    type: "llm",
    displayName: "Qwen3 4B Instruct 2507",
    publisher: "qwen",
    architecture: "qwen3",
    paramsString: "4B",
    vision: false,
    trainedForToolUse: true,
    maxContextLength: 262144,
    sizeBytes: 2_497_280_000,
  },
  {
    modelKey: "qwen3-vl-4b-instruct",
    type: "llm",
    displayName: "Qwen3 VL 4B Instruct",
    publisher: "lmstudio-community",
    architecture: "qwen3vl",
    paramsString: "4B",
    vision: true,
    trainedForToolUse: true,
    maxContextLength: 262144,
    sizeBytes: 3_330_000_000,
  },
  {
    modelKey: "google/gemma-3-1b",
    type: "llm",
    displayName: "Gemma 3 1B",
    publisher: "google",
    architecture: "gemma3",
    paramsString: "1B",
    vision: false,
    trainedForToolUse: false,
    maxContextLength: 32768,
    sizeBytes: 720_425_472,
  },
  {
    modelKey: "text-embedding-nomic-embed-text-v1.5",
    type: "embedding",
    displayName: "Nomic Embed Text v1.5",
    publisher: "nomic-ai",
    // LM Studio's bundled embedding model; lmstudio-python's tests resolve it as "nomic-ai/nomic-embed-text-v1.5"
    path: "nomic-ai/nomic-embed-text-v1.5-GGUF/nomic-embed-text-v1.5.Q4_K_M.gguf",
    architecture: "nomic-bert",
    paramsString: "137M",
    maxContextLength: 2048,
    sizeBytes: 84_106_624,
  },
];

function titleCase(s: string): string {
  return s
    .split(/[-_]/)
    .filter((p) => p.length > 0)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join(" ");
}

export function resolveModel(m: CatalogueModel): ResolvedModel {
  const type: ModelType = m.type ?? "llm";
  const slash = m.modelKey.indexOf("/");
  const base = slash >= 0 ? m.modelKey.slice(slash + 1) : m.modelKey;
  const publisher = m.publisher ?? (slash >= 0 ? m.modelKey.slice(0, slash) : "lmstudio-community");
  const path = m.path ?? `${publisher}/${base}-GGUF/${base}-Q4_K_M.gguf`;
  const maxContextLength = m.maxContextLength ?? (type === "llm" ? 32768 : 2048);
  const info: Record<string, unknown> = {
    type,
    modelKey: m.modelKey,
    format: "gguf",
    displayName: m.displayName ?? titleCase(base),
    publisher,
    path,
    sizeBytes: m.sizeBytes ?? 1_000_000_000,
    indexedModelIdentifier: path,
    deviceIdentifier: m.deviceIdentifier ?? null,
    paramsString: m.paramsString ?? "1B",
    architecture: m.architecture ?? "llama",
    quantization: { name: "Q4_K_M", bits: 4 },
    maxContextLength,
  };
  if (type === "llm") {
    info.vision = m.vision ?? false;
    info.trainedForToolUse = m.trainedForToolUse ?? false;
  }
  return {
    modelKey: m.modelKey,
    type,
    path,
    publisher,
    vision: type === "llm" && (m.vision ?? false),
    trainedForToolUse: type === "llm" && (m.trainedForToolUse ?? false),
    maxContextLength,
    defaultContextLength: Math.min(4096, maxContextLength),
    info,
  };
}

/**
 * Reads a catalogue from JSON: an array of `{modelKey, publisher, path, type, vision, trainedForToolUse,
 * maxContextLength, paramsString, architecture, displayName?, sizeBytes?}` (extra keys are ignored).
 */
export function parseCatalogue(json: string): CatalogueModel[] {
  const data: unknown = JSON.parse(json);
  if (!Array.isArray(data)) throw new Error("catalogue: expected a JSON array of models");
  return data.map((raw, i) => {
    if (
      typeof raw !== "object" ||
      raw === null ||
      typeof (raw as { modelKey?: unknown }).modelKey !== "string"
    ) {
      throw new Error(`catalogue: entry ${i} has no string modelKey`);
    }
    const r = raw as Record<string, unknown>;
    const str = (k: string): string | undefined => (typeof r[k] === "string" ? (r[k] as string) : undefined);
    const num = (k: string): number | undefined => (typeof r[k] === "number" ? (r[k] as number) : undefined);
    const bool = (k: string): boolean | undefined =>
      typeof r[k] === "boolean" ? (r[k] as boolean) : undefined;
    const type = str("type");
    if (type !== undefined && type !== "llm" && type !== "embedding") {
      throw new Error(`catalogue: entry ${i} has type ${type} (llm or embedding)`);
    }
    return {
      modelKey: r.modelKey as string,
      type,
      publisher: str("publisher"),
      path: str("path"),
      displayName: str("displayName"),
      architecture: str("architecture"),
      paramsString: str("paramsString"),
      vision: bool("vision"),
      trainedForToolUse: bool("trainedForToolUse"),
      maxContextLength: num("maxContextLength"),
      sizeBytes: num("sizeBytes"),
    };
  });
}
