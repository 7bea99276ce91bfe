/**
 * Which model a requested name means: the name itself when it is one, else the one candidate that
 * differs only in case. LM Studio's keys are lower-case but people type `Qwen/Qwen3-4B`; without
 * this, each such call loads another `key:2` copy.
 */
export type Resolution =
  | { kind: "found"; name: string }
  | { kind: "ambiguous"; candidates: string[] }
  | { kind: "missing" };

export function resolveModelName(requested: string, candidates: Iterable<string>): Resolution {
  const lower = requested.toLowerCase();
  const folded = new Set<string>();
  for (const c of candidates) {
    if (c === requested) return { kind: "found", name: c };
    if (c.toLowerCase() === lower) folded.add(c);
  }
  if (folded.size === 1) return { kind: "found", name: [...folded][0] as string };
  if (folded.size > 1) return { kind: "ambiguous", candidates: [...folded].sort() };
  return { kind: "missing" };
}
