/**
 * A minimal SVG line chart, so the demo report needs no plotting dependency (the charting libraries on npm
 * either need a browser/canvas or pull in dozens of packages for four lines of output).
 */

export interface Series {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  /** Text drawn next to each point (same order as `points`), e.g. `ef=64` on a recall-vs-QPS curve. */
  labels?: string[];
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Draw a marker at every point (for sparse curves such as recall vs QPS). */
  markers?: boolean;
  logX?: boolean;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/**
 * Ticks of a log axis, as log10 values: the round numbers 1, 2, 5 x 10^k inside [lo, hi] (only the powers of
 * ten when that gives enough), since evenly spaced log values land on numbers like 3162.
 */
function logTicks(lo: number, hi: number): number[] {
  const all: number[] = [];
  const powers: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const m of [1, 2, 5]) {
      const t = e + Math.log10(m);
      if (t < lo - 1e-9 || t > hi + 1e-9) continue;
      all.push(t);
      if (m === 1) powers.push(t);
    }
  }
  return powers.length >= 3 ? powers : all.length > 0 ? all : niceTicks(lo, hi);
}

function formatLogTick(v: number): string {
  return v >= 1 && v < 1e9 ? Math.round(v).toLocaleString('en') : formatTick(v);
}

/** Render series as an SVG line chart (a self-contained `<svg>` document). */
export function linePlot(series: Series[], options: PlotOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const margin = { left: 70, right: 150, top: 36, bottom: 48 };
  const tx = (x: number): number => (options.logX ? Math.log10(Math.max(x, 1e-12)) : x);
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xs = all.map(([x]) => tx(x));
  const ys = all.map(([, y]) => y);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y0 + 1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const pw = width - margin.left - margin.right;
  const ph = height - margin.top - margin.bottom;
  const px = (x: number): number => margin.left + ((tx(x) - x0) / (x1 - x0)) * pw;
  const py = (y: number): number => margin.top + (1 - (y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  );
  for (const t of niceTicks(y0, y1)) {
    const y = py(t);
    out.push(
      `<line x1="${margin.left}" x2="${margin.left + pw}" y1="${y}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${formatTick(t)}</text>`,
    );
  }
  for (const t of options.logX ? logTicks(x0, x1) : niceTicks(x0, x1)) {
    const x = margin.left + ((t - x0) / (x1 - x0)) * pw;
    const label = options.logX ? formatLogTick(10 ** t) : formatTick(t);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + ph}" stroke="#eee"/>`,
      `<text x="${x}" y="${margin.top + ph + 16}" text-anchor="middle">${label}</text>`,
    );
  }
  out.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + pw / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text x="16" y="${margin.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${margin.top + ph / 2})">${escapeXml(options.yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const d = pts
      .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    if (options.markers) {
      for (const [x, y] of pts) {
        out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
      }
    }
    s.points.forEach(([x, y], j) => {
      const label = s.labels?.[j];
      if (label === undefined || !Number.isFinite(x) || !Number.isFinite(y)) return;
      out.push(
        // Alternate above/below so that labels of neighbouring points overlap less.
        `<text x="${(px(x) + 5).toFixed(1)}" y="${(py(y) + (j % 2 === 0 ? -5 : 13)).toFixed(1)}" font-size="10" fill="${color}">${escapeXml(label)}</text>`,
      );
    });
    const ly = margin.top + 12 + i * 18;
    out.push(
      `<line x1="${margin.left + pw + 10}" x2="${margin.left + pw + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${margin.left + pw + 34}" y="${ly}">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
