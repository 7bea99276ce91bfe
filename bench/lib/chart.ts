/**
 * The bench's chart, as a standalone SVG (no dependencies): on the left, latency by percentile of
 * the sequential scenario per target (x on a "nines" scale: 50, 90, 99, 99.9; y logarithmic); on the right, one
 * small bar chart per scenario with the p50 of each target.
 */

export interface Series {
  label: string;
  color: string;
  /** Sorted latency samples in ms. */
  sorted: readonly number[];
}

export interface BarGroup {
  title: string;
  unit: string;
  bars: Array<{ label: string; color: string; value: number | null; note?: string }>;
}

export interface ChartInput {
  title: string;
  subtitle: string;
  curveTitle: string;
  series: Series[];
  groups: BarGroup[];
}

const esc = (s: string): string =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");

const fmt = (v: number): string =>
  v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3);

const nines = (p: number): number => -Math.log10(1 - p / 100);

export function renderChart(input: ChartInput): string {
  const W = 1000;
  const H = 620;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12" role="img" aria-label="${esc(input.title)}">`,
    `<title>${esc(input.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="20" y="28" font-size="18" font-weight="600">${esc(input.title)}</text>`,
    `<text x="20" y="48" fill="#555">${esc(input.subtitle)}</text>`,
  );

  // ---- left: latency by percentile
  const L = { x: 70, y: 90, w: 400, h: 420 };
  const pcts = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 99, 99.5, 99.9];
  const maxX = nines(99.9);
  const curves = input.series.map((s) => ({
    ...s,
    pts: pcts
      .filter(() => s.sorted.length > 0)
      .map((p) => {
        const idx = Math.min(s.sorted.length - 1, Math.max(0, Math.ceil((p / 100) * s.sorted.length) - 1));
        return [nines(p), s.sorted[idx] as number] as const;
      }),
  }));
  // Latency on a log scale: the p50s and the tails both stay readable.
  const all = curves.flatMap((c) => c.pts.map((p) => p[1]));
  const lo = 10 ** Math.floor(Math.log10(Math.max(1e-3, Math.min(...all))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(lo * 10, ...all)));
  const yt: number[] = [];
  for (let d = lo; d < hi * 1.001; d *= 10)
    for (const m of [1, 2, 5]) if (d * m <= hi * 1.001) yt.push(d * m);
  const px = (x: number) => L.x + (x / maxX) * L.w;
  const py = (y: number) =>
    L.y + L.h - ((Math.log10(Math.max(y, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * L.h;
  out.push(`<text x="${L.x}" y="${L.y - 14}" font-weight="600">${esc(input.curveTitle)}</text>`);
  for (const t of yt) {
    out.push(
      `<line x1="${L.x}" x2="${L.x + L.w}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`,
      `<text x="${L.x - 6}" y="${py(t) + 4}" text-anchor="end" fill="#555">${Number(t.toPrecision(3))}</text>`,
    );
  }
  for (const p of [0, 50, 90, 99, 99.9]) {
    const x = px(nines(p));
    out.push(
      `<line x1="${x}" x2="${x}" y1="${L.y}" y2="${L.y + L.h}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${L.y + L.h + 16}" text-anchor="middle" fill="#555">p${p}</text>`,
    );
  }
  out.push(
    `<text x="${L.x + L.w / 2}" y="${L.y + L.h + 34}" text-anchor="middle" fill="#555">percentile</text>`,
    `<text transform="translate(${L.x - 48},${L.y + L.h / 2}) rotate(-90)" text-anchor="middle" fill="#555">latency (ms, log scale)</text>`,
    `<rect x="${L.x}" y="${L.y}" width="${L.w}" height="${L.h}" fill="none" stroke="#999"/>`,
  );
  for (const c of curves) {
    if (c.pts.length === 0) continue;
    const d = c.pts.map((p, i) => `${i ? "L" : "M"}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join("");
    out.push(`<path d="${d}" fill="none" stroke="${c.color}" stroke-width="2.2"/>`);
  }
  curves.forEach((c, i) => {
    const y = L.y + 14 + i * 18;
    out.push(
      `<rect x="${L.x + 12}" y="${y - 9}" width="14" height="10" fill="${c.color}"/>`,
      `<text x="${L.x + 32}" y="${y}">${esc(c.label)}</text>`,
    );
  });

  // ---- right: one small bar chart per scenario
  const R = { x: 560, y: 90, w: 420 };
  const labelW = 120;
  const barH = 14;
  let y = R.y - 14;
  for (const g of input.groups) {
    out.push(`<text x="${R.x}" y="${y}" font-weight="600">${esc(g.title)}</text>`);
    y += 8;
    const max = Math.max(1e-9, ...g.bars.map((b) => b.value ?? 0));
    for (const b of g.bars) {
      const w = b.value === null ? 0 : ((R.w - labelW - 70) * b.value) / max;
      out.push(
        `<text x="${R.x + labelW - 6}" y="${y + barH - 3}" text-anchor="end" fill="#333">${esc(b.label)}</text>`,
        `<rect x="${R.x + labelW}" y="${y}" width="${Math.max(w, 0.5).toFixed(1)}" height="${barH}" fill="${b.color}"/>`,
        `<text x="${R.x + labelW + w + 5}" y="${y + barH - 3}" fill="#333">${
          b.value === null
            ? esc(b.note ?? "n/a")
            : `${fmt(b.value)} ${esc(g.unit)}${b.note ? ` ${esc(b.note)}` : ""}`
        }</text>`,
      );
      y += barH + 3;
    }
    y += 24;
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
