// core/models: the model gate (one load per model, names, aliases) and what it needs.
/** Levenshtein distance, two rows. Model keys are short, so this is cheap. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length] ?? 0;
}

/**
 * The candidates a user most likely meant: close by edit distance (on the whole key or on the part
 * after the publisher's slash), or containing what was typed. Best first, at most `limit`.
 */
export function closeMatches(query: string, candidates: string[], limit = 5): string[] {
  const q = query.toLowerCase();
  const scored = candidates.map((c) => {
    const lc = c.toLowerCase();
    const tail = lc.slice(lc.lastIndexOf("/") + 1);
    const qTail = q.slice(q.lastIndexOf("/") + 1);
    const d = Math.min(editDistance(q, lc), editDistance(qTail, tail));
    const contains = lc.includes(qTail) || (tail.length > 2 && q.includes(tail));
    return { c, d: contains ? Math.min(d, 1) : d };
  });
  const threshold = Math.max(2, Math.floor(q.length / 3));
  return scored
    .filter((s) => s.d <= threshold)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, limit)
    .map((s) => s.c);
}
