/**
 * fast-check arbitraries for the robustness tests: VALID request bodies for every POST endpoint,
 * and mutations of them that are invalid for exactly one, known reason (so the failure sits right
 * at the boundary and reaches deep validation), plus fully random JSON and malformed JSON text.
 *
 * Every generated case says which statuses are acceptable and, for mutations, where the 422
 * detail must point (`loc`, a prefix of some detail item's `loc` after "body").
 */
import fc from "fast-check";
import { JPEG_TINY, PNG_1x1, WEBP_TINY } from "../helpers/stack.ts";

export type Loc = Array<string | number>;

export interface Case {
  /** Which generator made it (shows in counterexamples). */
  label: string;
  /** The raw request body. */
  text: string;
  /** Acceptable HTTP statuses. */
  status: readonly number[];
  /** Some 422/413 detail item's loc must start with ["body", ...loc]. */
  loc?: Loc;
}

// biome-ignore lint/suspicious/noExplicitAny: generated JSON of any shape
type Obj = Record<string, any>;

export const IMAGE_MIME_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;
const FORBIDDEN_KEYS = ["__proto__", "constructor", "prototype"];

// ---------------------------------------------------------------- building blocks

/** Any code point, lone surrogates included (JSON.stringify escapes them as `\ud800`). */
export const text = (maxLength: number, minLength = 0) => fc.string({ unit: "binary", minLength, maxLength });

/**
 * A string of at least `min` (at most `max` + 3) code points, built by repetition (fast, up to
 * hundreds of KB). Code points, not UTF-16 units: that is what the schemas' max lengths count.
 */
export const longString = (min: number, max: number) =>
  fc
    .tuple(fc.string({ unit: "binary", minLength: 1, maxLength: 4 }), fc.integer({ min, max }))
    .map(([s, n]) => s.repeat(Math.ceil(n / [...s].length)));

/** Hundreds of KB. */
export const hugeString = longString(20_000, 300_000);

/** Just over a max length `max` (code points), now and then hundreds of KB over it. */
export const tooLong = (max: number) =>
  fc.oneof({ weight: 6, arbitrary: longString(max + 1, max + 64) }, { weight: 1, arbitrary: hugeString });

const DEEP = "\u0001deep\u0001";
const DEEP_ESCAPED = /"\\u0001deep\\u0001(array|object|mixed):(\d+):(.*?)\\u0001deep\\u0001"/g;

const deepOf = (kinds: ReadonlyArray<"array" | "object" | "mixed">) =>
  fc
    .record({
      depth: fc.integer({ min: 100, max: 3_000 }),
      kind: fc.constantFrom(...kinds),
      leaf: fc.jsonValue({ maxDepth: 0 }),
    })
    .map(({ depth, kind, leaf }) => `${DEEP}${kind}:${depth}:${JSON.stringify(leaf)}${DEEP}`);

/**
 * JSON nested 100 to 3,000 levels deep (arrays, objects or both). V8's JSON.stringify is slow on
 * deep values, so this is a marker string that `toJson` expands into the nested text.
 */
export const deepJson = deepOf(["array", "object", "mixed"]);
const deepArray = deepOf(["array"]);

function expandDeep(kind: string, depth: number, leaf: string): string {
  const asArray = (i: number) => kind === "array" || (kind === "mixed" && i % 2 === 0);
  let open = "";
  let close = "";
  for (let i = depth - 1; i >= 0; i--) open += asArray(i) ? "[" : '{"a":';
  for (let i = 0; i < depth; i++) close += asArray(i) ? "]" : "}";
  return open + leaf + close;
}

/** JSON.stringify, with `deepJson` markers expanded into nested JSON text. */
export function toJson(v: unknown): string {
  const t = JSON.stringify(v) ?? "null";
  if (!t.includes("\\u0001deep\\u0001")) return t;
  return t.replace(DEEP_ESCAPED, (_, kind: string, depth: string, leaf: string) =>
    expandDeep(kind, Number(depth), JSON.parse(`"${leaf}"`) as string),
  );
}

const smallJson = fc.jsonValue({ maxDepth: 2 });
const nanLike = fc.constantFrom("NaN", "Infinity", "-Infinity", "1e400", "0x10", "1_000", " 1", "1.0", "");

export const notString = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.array(smallJson, { maxLength: 3 }),
  fc.dictionary(text(8), smallJson, { maxKeys: 3 }),
  deepJson,
);
export const notNumber = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  nanLike,
  text(10),
  fc.double().map(String),
  fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 2 }),
  fc.dictionary(text(8), smallJson, { maxKeys: 2 }),
);
export const notBoolean = fc.oneof(
  fc.constant(null),
  fc.constantFrom("true", "false", "1", "0", "yes", 1, 0),
  fc.double(),
  text(10),
  fc.array(fc.boolean(), { maxLength: 2 }),
  fc.dictionary(text(8), smallJson, { maxKeys: 2 }),
);
export const notObject = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  text(20),
  fc.array(smallJson, { maxLength: 3 }),
  deepArray,
);
export const notArray = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  text(20),
  fc.dictionary(text(8), smallJson, { maxKeys: 3 }),
);

/** Finite doubles strictly above `max` (2.0001, the next double after max, 1e308...). */
export const above = (max: number) =>
  fc.oneof(
    fc.double({ min: max, minExcluded: true, max: Number.MAX_VALUE, noNaN: true }),
    fc.constantFrom(max + 0.0001, max + 1, 1e12, Number.MAX_VALUE),
  );
/** Finite doubles strictly below `min`. */
export const below = (min: number) =>
  fc.oneof(
    fc.double({ min: -Number.MAX_VALUE, max: min, maxExcluded: true, noNaN: true }),
    fc.constantFrom(min - 0.0001, min - 0.1, min - 1, -1e12),
  );

/** A key none of `allowed` (nor one secure-json-parse refuses outright). */
export const extraKey = (allowed: readonly string[], confusions: readonly string[]) =>
  fc
    .oneof(fc.constantFrom(...confusions), text(12), longString(1_000, 5_000))
    .filter((k) => !allowed.includes(k) && !FORBIDDEN_KEYS.includes(k));

export const anyValue = fc.oneof(
  { weight: 12, arbitrary: smallJson },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deepJson },
);

// ---------------------------------------------------------------- images

const IMAGES = [
  { b64: PNG_1x1, mime: "image/png" },
  { b64: JPEG_TINY, mime: "image/jpeg" },
  { b64: WEBP_TINY, mime: "image/webp" },
] as const;

export const validImage = fc
  .record({ img: fc.constantFrom(...IMAGES), dataUrl: fc.boolean(), upper: fc.boolean() })
  .map(({ img, dataUrl, upper }) => ({
    data_base64: dataUrl ? `data:${img.mime};base64,${img.b64}` : img.b64,
    mime_type: upper ? img.mime.toUpperCase() : img.mime,
  }));

const isBase64 = (s: string) => s.length > 0 && s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);

/** Strings that are not standard, padded base64. */
const invalidBase64 = fc.oneof(
  // a character outside the alphabet, anywhere
  fc
    .tuple(
      fc.constantFrom(...IMAGES),
      fc.nat(),
      fc.constantFrom("-", "_", " ", "\n", "\t", "!", "*", ".", ":", "é", "\u0000", "\ud800", "😀"),
    )
    .map(([img, at, ch]) => {
      const i = at % (img.b64.length + 1);
      return img.b64.slice(0, i) + ch + img.b64.slice(i);
    }),
  // padding removed or length no longer a multiple of 4
  fc
    .tuple(fc.constantFrom(...IMAGES), fc.integer({ min: 1, max: 3 }))
    .map(([img, n]) => img.b64.slice(0, img.b64.length - n)),
  // too much padding / padding in the middle
  fc.constantFrom(`${PNG_1x1}====`, `====${PNG_1x1}`, `${PNG_1x1.slice(0, 8)}=${PNG_1x1.slice(9)}`),
  text(40).filter((s) => s.length > 0 && !isBase64(s)),
);

/** Decoded bytes that are none of JPEG, PNG, WebP (first byte is not 0xff, 0x89 or "R"). */
const unknownBytes = fc
  .uint8Array({ minLength: 1, maxLength: 60 })
  .filter((b) => b[0] !== 0xff && b[0] !== 0x89 && b[0] !== 0x52)
  .map((b) => Buffer.from(b).toString("base64"));

const unsupportedMime = fc
  .oneof(
    fc.constantFrom(
      "image/gif",
      "image/jpg",
      "image/svg+xml",
      "image/bmp",
      "image/tiff",
      "image/heic",
      "application/pdf",
      "text/plain",
      "",
      "image/",
      "image",
      " image/png",
      "image/png ",
      "image/png; charset=binary",
      "image/jpeg\u0000",
      "ｉｍａｇｅ/ｐｎｇ",
    ),
    text(20),
  )
  .filter((m) => !(IMAGE_MIME_TYPES as readonly string[]).includes(m.toLowerCase()));

/** An image with exactly one problem, and where the 422 must point (relative to the image). */
export const invalidImage: fc.Arbitrary<{ label: string; image: unknown; loc: Loc; status?: number }> =
  fc.oneof(
    notObject.map((image) => ({ label: "image:not-object", image, loc: [] })),
    fc.constantFrom(...IMAGES).map((img) => ({ label: "image:bare-string", image: img.b64, loc: [] })),
    validImage.map(({ mime_type }) => ({
      label: "image:no-data",
      image: { mime_type },
      loc: ["data_base64"],
    })),
    // Raw base64 only: a data URL names its own type, so it needs no mime_type.
    validImage.map(({ data_base64 }) => ({
      label: "image:no-mime",
      image: { data_base64: data_base64.replace(/^data:[^,]*,/, "") },
      loc: ["mime_type"],
    })),
    fc.tuple(validImage, fc.oneof(notString, fc.constant(""))).map(([img, data_base64]) => ({
      label: "image:bad-data-type",
      image: { ...img, data_base64 },
      loc: ["data_base64"],
    })),
    fc.tuple(validImage, notString).map(([img, mime_type]) => ({
      label: "image:bad-mime-type",
      image: { ...img, mime_type },
      loc: ["mime_type"],
    })),
    fc.tuple(validImage, unsupportedMime).map(([img, mime_type]) => ({
      label: "image:unsupported-mime",
      image: { ...img, mime_type },
      loc: ["mime_type"],
    })),
    fc.tuple(fc.constantFrom(...IMAGES), invalidBase64).map(([img, data_base64]) => ({
      label: "image:invalid-base64",
      image: { data_base64, mime_type: img.mime },
      loc: ["data_base64"],
    })),
    // lying mime type: PNG bytes labelled image/jpeg and every other wrong pairing
    fc
      .tuple(fc.constantFrom(...IMAGES), fc.constantFrom(...IMAGE_MIME_TYPES), fc.boolean())
      .filter(([img, mime]) => img.mime !== mime)
      .map(([img, mime_type, dataUrl]) => ({
        label: "image:lying-mime",
        image: { data_base64: dataUrl ? `data:${mime_type};base64,${img.b64}` : img.b64, mime_type },
        loc: ["data_base64"],
      })),
    // the data URL names another type than mime_type
    fc
      .tuple(
        fc.constantFrom(...IMAGES),
        fc.constantFrom("image/gif", "image/jpeg", "image/png", "text/plain"),
      )
      .filter(([img, prefix]) => img.mime !== prefix)
      .map(([img, prefix]) => ({
        label: "image:data-url-mismatch",
        image: { data_base64: `data:${prefix};base64,${img.b64}`, mime_type: img.mime },
        loc: ["data_base64"],
      })),
    fc.tuple(unknownBytes, fc.constantFrom(...IMAGE_MIME_TYPES)).map(([data_base64, mime_type]) => ({
      label: "image:not-an-image",
      image: { data_base64, mime_type },
      loc: ["data_base64"],
    })),
    fc
      .tuple(
        validImage,
        extraKey(["data_base64", "mime_type"], ["url", "detail", "type", "image_url"]),
        anyValue,
      )
      .map(([img, k, v]) => ({ label: "image:extra-key", image: { ...img, [k]: v }, loc: [] })),
  );

/** A PNG over MAX_IMAGE_BYTES (the fuzz stack sets it to IMAGE_LIMIT): 413 with a FastAPI detail. */
export const IMAGE_LIMIT = 4096;
export const tooLargeImage = fc.integer({ min: IMAGE_LIMIT + 1, max: 6 * IMAGE_LIMIT }).map((size) => {
  const bytes = Buffer.alloc(size);
  Buffer.from(PNG_1x1, "base64").copy(bytes);
  return {
    label: "image:too-large",
    image: { data_base64: bytes.toString("base64"), mime_type: "image/png" },
    loc: ["data_base64"] as Loc,
    status: 413,
  };
});

// ---------------------------------------------------------------- chat bodies

export type ChatKind = "generic" | "regular" | "vision";
const ROLES = ["system", "user", "assistant"] as const;
const CHAT_KEYS = ["model_key", "messages", "config"];
const MESSAGE_KEYS = ["role", "content", "images"];
const CONFIG_KEYS = ["temperature", "maxTokens", "topP", "presencePenalty", "frequencyPenalty"];

const validConfig = fc.record(
  {
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    maxTokens: fc.integer({ min: 1, max: 1_000_000 }),
    topP: fc.double({ min: 0, max: 1, noNaN: true }),
    presencePenalty: fc.double({ min: -2, max: 2, noNaN: true }),
    frequencyPenalty: fc.double({ min: -2, max: 2, noNaN: true }),
  },
  { requiredKeys: [] },
);

const validMessage = (images: boolean) =>
  fc
    .record({
      role: fc.constantFrom(...ROLES),
      content: text(40),
      images: images
        ? fc.option(fc.array(validImage, { maxLength: 3 }), { nil: undefined })
        : fc.constant(undefined),
    })
    .map(({ images: imgs, ...m }) => (imgs === undefined ? m : { ...m, images: imgs }));

/**
 * A valid chat body. `models` given: model_key is one of them or absent (bodies the emulator can
 * answer); otherwise any valid-shaped key.
 */
export const validChatBody = (kind: ChatKind, models?: readonly string[]) =>
  fc
    .record(
      {
        model_key: models ? fc.constantFrom(...models) : text(60, 1),
        messages: fc.array(validMessage(kind !== "regular"), { minLength: 1, maxLength: 4 }),
        config: validConfig,
      },
      { requiredKeys: ["messages"] },
    )
    .map((b) => b as Obj);

const clone = <T>(v: T): T => structuredClone(v);

/**
 * fc.jsonValue() likes `__proto__` and `constructor` keys: secure-json-parse (Fastify's JSON
 * parser) refuses those anywhere in a body with a 400, before validation. Fine, and allowed.
 */
const PROTO_KEY = /"(?:__proto__|constructor)":/;

const caseOf = (label: string, body: unknown, loc: Loc, status: readonly number[] = [422]): Case => {
  const text = toJson(body);
  return { label, text, status: PROTO_KEY.test(text) ? [...status, 400] : status, loc };
};

/** Invalid values for each config field. */
const invalidConfigValue: Record<string, fc.Arbitrary<unknown>> = {
  temperature: fc.oneof(
    above(2),
    below(0),
    fc.constantFrom(2.0001, -0.0001, 2 + Number.EPSILON * 2),
    notNumber,
  ),
  topP: fc.oneof(above(1), below(0), fc.constantFrom(-0.1, 1.0001), notNumber),
  presencePenalty: fc.oneof(above(2), below(-2), fc.constantFrom(2.0001, -2.0001), notNumber),
  frequencyPenalty: fc.oneof(above(2), below(-2), fc.constantFrom(2.0001, -2.0001), notNumber),
  maxTokens: fc.oneof(
    fc.constantFrom(0, -0, -1, 1.5, 1e12, 1_000_001, 0.5, 999_999.5, Number.MAX_SAFE_INTEGER),
    fc.integer({ max: 0 }),
    fc.integer({ min: 1_000_001 }),
    fc.double({ min: 1, max: 1_000_000, noNaN: true }).filter((x) => !Number.isInteger(x)),
    above(1_000_000),
    notNumber,
  ),
};

/** A mutation of a valid chat body that is invalid for exactly one reason. */
export function invalidChatCase(kind: ChatKind): fc.Arbitrary<Case> {
  return validChatBody(kind).chain((base) => {
    const n = base.messages.length;
    const msgIndex = fc.nat(n - 1);
    const mutations: Array<fc.Arbitrary<Case>> = [
      // top level
      fc.constant(base).map((b) => {
        const { messages: _, ...rest } = b;
        return caseOf("messages:missing", rest, ["messages"]);
      }),
      fc.constant(caseOf("messages:empty", { ...base, messages: [] }, ["messages"])),
      notArray.map((messages) => caseOf("messages:not-array", { ...base, messages }, ["messages"])),
      fc
        .tuple(
          extraKey(CHAT_KEYS, ["model", "stream", "tools", "max_tokens", "temperature", "modelKey"]),
          anyValue,
        )
        .map(([k, v]) => caseOf("body:extra-key", { ...base, [k]: v }, [])),
      fc
        .oneof(notString, fc.constant(""), tooLong(512))
        .map((model_key) => caseOf("model_key:invalid", { ...base, model_key }, ["model_key"])),
      fc
        .oneof(
          fc.constant([base]),
          notObject.filter((v) => !Array.isArray(v) || v.length !== 0),
        )
        .map((body) => caseOf("body:not-object", body, [])),
      // a message
      fc.tuple(msgIndex, notObject).map(([i, m]) => {
        const b = clone(base);
        b.messages[i] = m;
        return caseOf("message:not-object", b, ["messages", i]);
      }),
      fc
        .tuple(
          msgIndex,
          fc.oneof(
            fc.constantFrom(
              "tool",
              "function",
              "developer",
              "System",
              "USER",
              " user",
              "user\u200b",
              "ｕｓｅｒ",
            ),
            fc.constantFrom("user\u0000", "\ud800", "assistant\n", ""),
            text(12),
            hugeString,
            notString,
          ),
        )
        .filter(([, role]) => !(ROLES as readonly unknown[]).includes(role))
        .map(([i, role]) => {
          const b = clone(base);
          b.messages[i].role = role;
          return caseOf("message:bad-role", b, ["messages", i, "role"]);
        }),
      fc.tuple(msgIndex, fc.constantFrom("role", "content")).map(([i, key]) => {
        const b = clone(base);
        delete b.messages[i][key];
        return caseOf(`message:no-${key}`, b, ["messages", i, key]);
      }),
      fc
        .tuple(
          msgIndex,
          fc.oneof(notString, fc.constant([{ type: "text", text: "hi" }]), fc.constant({ text: "hi" })),
        )
        .map(([i, content]) => {
          const b = clone(base);
          b.messages[i].content = content;
          return caseOf("message:bad-content", b, ["messages", i, "content"]);
        }),
      fc
        .tuple(msgIndex, extraKey(MESSAGE_KEYS, ["name", "tool_calls", "image", "Images", "text"]), anyValue)
        .map(([i, k, v]) => {
          const b = clone(base);
          b.messages[i][k] = v;
          return caseOf("message:extra-key", b, ["messages", i]);
        }),
      // config
      notObject.map((config) => caseOf("config:not-object", { ...base, config }, ["config"])),
      fc
        .tuple(
          extraKey(CONFIG_KEYS, ["max_tokens", "top_p", "seed", "stream", "Temperature", "top_k"]),
          anyValue,
        )
        .map(([k, v]) =>
          caseOf("config:extra-key", { ...base, config: { ...base.config, [k]: v } }, ["config"]),
        ),
      fc
        .constantFrom(...CONFIG_KEYS)
        .chain((k) => fc.tuple(fc.constant(k), invalidConfigValue[k] as fc.Arbitrary<unknown>))
        .map(([k, v]) =>
          caseOf(`config:${k}`, { ...base, config: { ...base.config, [k]: v } }, ["config", k]),
        ),
      // numbers JSON.stringify cannot write: 1e400 parses as Infinity, duplicate keys (the last wins)
      fc
        .constantFrom(
          ["temperature", "1e400"],
          ["temperature", "-1e400"],
          ["maxTokens", "1e400"],
          ["maxTokens", "-0.0"],
          ["topP", "1.0000000000000002"],
          ["presencePenalty", "-2.0000000000000004"],
        )
        .map(([k, raw]) => {
          const { config: _, ...rest } = base;
          const head = JSON.stringify(rest).slice(0, -1);
          return {
            label: `raw:config.${k}=${raw}`,
            text: `${head},"config":{"${k}":${raw}}}`,
            status: [422],
            loc: ["config", k],
          } satisfies Case;
        }),
      fc.constantFrom("null", '""', "[]", "{}", "1").map((raw) => ({
        label: `raw:duplicate-messages=${raw}`,
        text: `${JSON.stringify(base).slice(0, -1)},"messages":${raw}}`,
        status: [422],
        loc: ["messages"],
      })),
    ];
    if (kind === "regular") {
      // Images are invalid on the text-only endpoint, even perfectly good ones.
      mutations.push(
        fc.tuple(msgIndex, fc.array(validImage, { minLength: 1, maxLength: 3 })).map(([i, images]) => {
          const b = clone(base);
          b.messages[i].images = images;
          return caseOf("regular:images", b, ["messages", i, "images"]);
        }),
      );
    }
    mutations.push(
      fc.tuple(msgIndex, notArray).map(([i, images]) => {
        const b = clone(base);
        b.messages[i].images = images;
        return caseOf("images:not-array", b, ["messages", i, "images"]);
      }),
      fc.tuple(msgIndex, validImage).map(([i, img]) => {
        const b = clone(base);
        b.messages[i].images = Array.from({ length: 33 }, () => img);
        return caseOf("images:too-many", b, ["messages", i, "images"]);
      }),
      fc
        .tuple(
          msgIndex,
          fc.oneof({ weight: 12, arbitrary: invalidImage }, { weight: 1, arbitrary: tooLargeImage }),
        )
        .chain(([i, bad]) => {
          const existing: unknown[] = base.messages[i].images ?? [];
          return fc.nat(existing.length).map((j) => {
            const b = clone(base);
            const images = [...existing];
            images.splice(j, 0, bad.image);
            b.messages[i].images = images;
            return caseOf(bad.label, b, ["messages", i, "images", j, ...bad.loc], [bad.status ?? 422]);
          });
        }),
    );
    return fc.oneof(...mutations);
  });
}

// ---------------------------------------------------------------- model bodies

const LOAD_KEYS = ["model_key", "exclusive", "identifier", "context_length", "ttl"];

export const validLoadBody = fc
  .record(
    {
      model_key: text(60, 1),
      exclusive: fc.boolean(),
      identifier: text(60, 1),
      context_length: fc.integer({ min: 1, max: 10_000_000 }),
      ttl: fc.integer({ min: 1, max: 31_536_000 }),
    },
    { requiredKeys: ["model_key"] },
  )
  .map((b) => b as Obj);

const badInt = (min: number, max: number) =>
  fc.oneof(
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: min - 1 }),
    fc.integer({ min: max + 1, max: Number.MAX_SAFE_INTEGER }),
    fc.double({ min, max, noNaN: true }).filter((x) => !Number.isInteger(x)),
    above(max),
    below(min),
    fc.constantFrom(min - 1, max + 1, 1.5, 1e12, 0),
    notNumber,
  );

export const invalidLoadCase: fc.Arbitrary<Case> = validLoadBody.chain((base) =>
  fc.oneof(
    fc.constant(base).map(({ model_key: _, ...rest }) => caseOf("model_key:missing", rest, ["model_key"])),
    fc
      .oneof(notString, fc.constant(""), tooLong(512))
      .map((model_key) => caseOf("model_key:invalid", { ...base, model_key }, ["model_key"])),
    notBoolean.map((exclusive) => caseOf("exclusive:invalid", { ...base, exclusive }, ["exclusive"])),
    fc
      .oneof(notString, fc.constant(""), tooLong(256))
      .map((identifier) => caseOf("identifier:invalid", { ...base, identifier }, ["identifier"])),
    badInt(1, 10_000_000).map((context_length) =>
      caseOf("context_length:invalid", { ...base, context_length }, ["context_length"]),
    ),
    badInt(1, 31_536_000).map((ttl) => caseOf("ttl:invalid", { ...base, ttl }, ["ttl"])),
    fc
      .tuple(extraKey(LOAD_KEYS, ["modelKey", "config", "gpu", "contextLength", "model", "ttl_ms"]), anyValue)
      .map(([k, v]) => caseOf("body:extra-key", { ...base, [k]: v }, [])),
    fc.oneof(fc.constant([base]), notObject).map((body) => caseOf("body:not-object", body, [])),
    fc.constantFrom('""', "null", "1e400", "[]").map((raw) => ({
      label: `raw:duplicate-model_key=${raw}`,
      text: `${JSON.stringify(base).slice(0, -1)},"model_key":${raw}}`,
      status: [422],
      loc: ["model_key"],
    })),
    fc.constantFrom("ttl", "context_length").map((k) => ({
      label: `raw:${k}=1e400`,
      text: `${JSON.stringify(base).slice(0, -1)},"${k}":1e400}`,
      status: [422],
      loc: [k],
    })),
  ),
);

const UNLOAD_KEYS = ["model_key", "unload_all"];

export const validUnloadBody = fc.oneof(
  text(60, 1).map((model_key) => ({ model_key }) as Obj),
  text(60, 1).map((model_key) => ({ model_key, unload_all: false }) as Obj),
  fc.constant({ unload_all: true } as Obj),
);

export const invalidUnloadCase: fc.Arbitrary<Case> = validUnloadBody.chain((base) =>
  fc.oneof(
    fc.constant(caseOf("neither", {}, [])),
    fc.constant(caseOf("unload_all:false-alone", { unload_all: false }, [])),
    text(60, 1).map((model_key) => caseOf("both", { model_key, unload_all: true }, [])),
    fc
      .oneof(notString, fc.constant(""), tooLong(512))
      .map((model_key) => caseOf("model_key:invalid", { ...base, model_key }, ["model_key"])),
    notBoolean.map((unload_all) => caseOf("unload_all:invalid", { ...base, unload_all }, ["unload_all"])),
    fc
      .tuple(extraKey(UNLOAD_KEYS, ["identifier", "all", "modelKey", "force"]), anyValue)
      .map(([k, v]) => caseOf("body:extra-key", { ...base, [k]: v }, [])),
    fc.oneof(fc.constant([base]), notObject).map((body) => caseOf("body:not-object", body, [])),
  ),
);

// ---------------------------------------------------------------- random and malformed

/** Fully random JSON (and JS values serialised as JSON): never a valid body for any endpoint. */
export const randomJsonCase: fc.Arbitrary<Case> = fc
  .oneof(
    fc.jsonValue().map((v) => ({ label: "random:jsonValue", v })),
    fc.anything().map((v) => ({ label: "random:anything", v })),
    fc
      .dictionary(
        fc.constantFrom(...CHAT_KEYS, ...LOAD_KEYS, ...UNLOAD_KEYS, ...MESSAGE_KEYS),
        fc.jsonValue(),
        {
          minKeys: 1,
          maxKeys: 4,
        },
      )
      .map((v) => ({ label: "random:known-keys", v })),
  )
  .map(({ label, v }) => {
    let t: string | undefined;
    try {
      t = JSON.stringify(v);
    } catch {
      t = undefined; // BigInt and friends
    }
    // 400: secure-json-parse refuses __proto__/constructor.prototype keys outright.
    return { label, text: t ?? "null", status: [400, 422] };
  })
  // a random value that happens to be a valid body of some endpoint is not a failure of the service
  .filter((c) => !isPlausiblyValid(c.text));

/**
 * Conservative: could some endpoint accept this? Only known keys, each holding the JSON type its
 * schema wants (`{"unload_all":true}`, `{"model_key":"x"}`, ...). Such values are skipped.
 */
const KEY_TYPES: Record<string, string> = {
  model_key: "string",
  identifier: "string",
  messages: "array",
  config: "object",
  exclusive: "boolean",
  unload_all: "boolean",
  context_length: "number",
  ttl: "number",
};
function isPlausiblyValid(t: string): boolean {
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return false;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  return Object.entries(v).every(([k, x]) => {
    const want = KEY_TYPES[k];
    if (want === undefined) return false;
    const got = Array.isArray(x) ? "array" : x === null ? "null" : typeof x;
    return got === want;
  });
}

/** Text that JSON.parse refuses: truncated, trailing garbage, JS-isms, invalid bytes. */
export const malformedJson = (
  valid: fc.Arbitrary<Obj>,
): fc.Arbitrary<{ label: string; body: string | Buffer }> =>
  valid.chain((b) => {
    const t = JSON.stringify(b);
    return fc
      .oneof(
        fc.integer({ min: 1, max: t.length - 1 }).map((k) => ({ label: "truncated", body: t.slice(0, k) })),
        fc
          .constantFrom("x", "}", "]", ",", ",{}", "{}", '"', "\u0000", "// c", "null", "1")
          .map((g) => ({ label: "trailing-garbage", body: t + g })),
        fc.constantFrom(
          { label: "single-quotes", body: "{'a':1}" },
          { label: "single-quotes", body: t.replaceAll('"', "'") },
          { label: "unquoted-keys", body: t.replace(/"([A-Za-z_]+)":/g, "$1:") },
          { label: "trailing-comma", body: `${t.slice(0, -1)},}` },
          { label: "NaN-literal", body: `${t.slice(0, -1)},"config":{"temperature":NaN}}` },
          { label: "Infinity-literal", body: '{"ttl":Infinity}' },
          { label: "comment", body: `/* hi */${t}` },
          { label: "hex-number", body: '{"ttl":0x10}' },
          { label: "undefined", body: '{"model_key":undefined}' },
          { label: "two-documents", body: `${t}\n${t}` },
          { label: "bad-escape", body: '{"model_key":"\\x41"}' },
          { label: "raw-newline-in-string", body: '{"model_key":"a\nb"}' },
          { label: "lone-brace", body: "{" },
          { label: "whitespace-only", body: "  \n\t " },
        ),
        fc.nat().map((at) => {
          // invalid UTF-8 (a raw surrogate encoded, a lone continuation byte) in place of a quote
          const buf = Buffer.from(t);
          const i = t.indexOf('"', at % t.length);
          const bad = Buffer.from([0xed, 0xa0, 0x80, 0x80, 0xff]);
          return {
            label: "invalid-utf8",
            body:
              i < 0
                ? Buffer.concat([bad, buf])
                : Buffer.concat([buf.subarray(0, i), bad, buf.subarray(i + 1)]),
          };
        }),
        fc.tuple(fc.nat(), fc.constantFrom("{", "[", ":", ",", "'", "\\")).map(([at, ch]) => {
          const i = at % (t.length + 1);
          return { label: "inserted-char", body: t.slice(0, i) + ch + t.slice(i) };
        }),
      )
      .filter(({ body }) => {
        const s = typeof body === "string" ? body : body.toString("utf8");
        try {
          JSON.parse(s.replace(/^\uFEFF/, ""));
          return false;
        } catch {
          return true;
        }
      });
  });
