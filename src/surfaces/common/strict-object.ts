import { z } from "zod";

const toCamel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const toSnake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * What an unknown field most likely meant: a hint given for it, the same name in the other case
 * convention (`max_tokens` → `maxTokens`), or the allowed fields.
 */
export function unknownFieldMessage(
  key: string,
  allowed: string[],
  hints: Record<string, string> = {},
): string {
  // Own keys only: "toString" is a field name a client may send, not a hint.
  const hint = Object.hasOwn(hints, key) ? hints[key] : undefined;
  // A hint with a space is advice, not a field name.
  if (hint?.includes(" ")) return `Unknown field "${key}": ${hint}`;
  const meant =
    hint ??
    allowed.find((a) => a === toCamel(key) || a === toSnake(key) || a.toLowerCase() === key.toLowerCase());
  return meant
    ? `Unknown field "${key}": did you mean "${meant}"?`
    : `Unknown field "${key}" (allowed: ${allowed.join(", ")})`;
}

/** A strict object whose unknown-field errors say what was meant. */
export function strictObject<T extends z.core.$ZodLooseShape>(shape: T, hints: Record<string, string> = {}) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== "unrecognized_keys") return undefined;
      return issue.keys.map((k) => unknownFieldMessage(k, allowed, hints)).join("; ");
    },
  });
}
