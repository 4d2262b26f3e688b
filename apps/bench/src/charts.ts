/**
 * Charts as hand-written SVG (no dependency): a generic line chart with axes, ticks, grid, legend,
 * title and optional reference lines; the bench's two charts on top of it — SLO attainment against
 * request rate per mode, and the CDF of a latency metric per mode.
 *
 * Invariants: output is a standalone well-formed SVG 1.1 document; every text is XML-escaped;
 * empty series and degenerate ranges still render (the range is widened); a reference line's label
 * is drawn over the data at the end of its line where it covers the fewest points.
 */

/** One line of a chart. */
export interface Series {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
  /** Draw as a step function (CDFs). */
  step?: boolean;
  /** Vertical ranges [x, yLow, yHigh] drawn as bars with hollow markers (bounded, inexact values). */
  ranges?: ReadonlyArray<readonly [number, number, number]>;
}

/** A reference line across the plot. */
export interface RefLine {
  axis: 'x' | 'y';
  value: number;
  label: string;
}

/** Everything a line chart needs. */
export interface LineChartSpec {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  xLog?: boolean;
  yRange?: readonly [number, number];
  refLines?: readonly RefLine[];
}

const W = 900;
const H = 460;
const M = { left: 72, right: 290, top: 70, bottom: 62 };
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Renders a line chart as an SVG document. */
export function renderLineChart(spec: LineChartSpec): string {
  const all = spec.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]).filter((x) => !spec.xLog || x > 0);
  const xr = widen(xs.length === 0 ? [1, 10] : [Math.min(...xs), Math.max(...xs)], spec.xLog ?? false);
  const yr = spec.yRange ?? widen(all.length === 0 ? [0, 1] : [Math.min(0, ...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))], false);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const fx = spec.xLog ? (x: number) => Math.log10(x) : (x: number) => x;
  const [fx0, fx1] = [fx(xr[0]), fx(xr[1])];
  const sx = (x: number): number => M.left + ((fx(Math.max(x, spec.xLog ? xr[0] : -Infinity)) - fx0) / (fx1 - fx0)) * pw;
  const sy = (y: number): number => M.top + ph - ((y - yr[0]) / (yr[1] - yr[0])) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    text(M.left, 26, spec.title, { size: 16, weight: 'bold' }),
  ];
  (spec.subtitle ?? '').split('\n').forEach((l, i) => out.push(text(M.left, 44 + i * 14, l, { size: 11, fill: '#555' })));
  const xt = spec.xLog ? logTicks(xr) : niceTicks(xr);
  for (const t of xt) {
    out.push(line(sx(t), M.top, sx(t), M.top + ph, '#e5e5e5'), text(sx(t), M.top + ph + 18, fmt(t), { anchor: 'middle' }));
  }
  for (const t of niceTicks(yr)) {
    out.push(line(M.left, sy(t), M.left + pw, sy(t), '#e5e5e5'), text(M.left - 8, sy(t) + 4, fmt(t), { anchor: 'end' }));
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(text(M.left + pw / 2, H - 16, spec.xLabel, { anchor: 'middle', size: 13 }));
  out.push(`<text x="18" y="${M.top + ph / 2}" text-anchor="middle" font-size="13" transform="rotate(-90 18 ${M.top + ph / 2})">${esc(spec.yLabel)}</text>`);
  const lines = spec.series.map((s) => polyline(s, sx, sy));
  const labels: string[] = [];
  for (const r of spec.refLines ?? []) {
    const inside = r.axis === 'y' ? r.value >= yr[0] && r.value <= yr[1] : r.value >= xr[0] && r.value <= xr[1];
    if (!inside) continue;
    const [x1, y1, x2, y2] = r.axis === 'y' ? [M.left, sy(r.value), M.left + pw, sy(r.value)] : [sx(r.value), M.top, sx(r.value), M.top + ph];
    out.push(`<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="#666" stroke-dasharray="6 4"/>`);
    const place = labelPlace(r, r.axis === 'y' ? y1 : x1, { x: M.left, y: M.top, w: pw, h: ph }, lines, spec.series);
    labels.push(text(place.x, place.y, r.label, { fill: '#444', anchor: place.anchor, halo: true }));
  }
  spec.series.forEach((s, i) => out.push(...seriesSvg(s, lines[i], PALETTE[i % PALETTE.length], sx, sy)));
  // NOTE: labels go on top of the data, with a white halo, at the corner of their line that
  // crosses the fewest data points and lines (a fixed spot covered points at high attainment).
  out.push(...labels);
  spec.series.forEach((s, i) => {
    const y = M.top + 10 + i * 22;
    const c = PALETTE[i % PALETTE.length];
    out.push(`<line x1="${W - M.right + 16}" y1="${y}" x2="${W - M.right + 44}" y2="${y}" stroke="${c}" stroke-width="3"/>`);
    out.push(text(W - M.right + 52, y + 4, s.name));
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** A measured attainment; `upper` is set when the run stopped early and only bounds are known. */
export interface AttainmentPoint {
  rate: number;
  attainment: number;
  upper?: number;
}

/**
 * SLO attainment (%) against offered rate, one line per mode, with the 90% goal dashed; a point
 * with `upper` is drawn as a bar from its lower bound (`attainment`) to a hollow marker at `upper`.
 */
export function attainmentChart(opts: { title: string; subtitle?: string; modes: ReadonlyArray<{ name: string; points: readonly AttainmentPoint[] }>; target?: number }): string {
  const target = opts.target ?? 0.9;
  return renderLineChart({
    title: opts.title,
    subtitle: opts.subtitle,
    xLabel: 'offered rate (requests/s)',
    yLabel: 'SLO attainment (%)',
    yRange: [0, 100],
    series: opts.modes.map((m) => ({
      name: m.name,
      points: [...m.points].sort((a, b) => a.rate - b.rate).map((p) => [p.rate, (p.upper ?? p.attainment) * 100] as const),
      ranges: m.points.filter((p) => p.upper !== undefined && p.upper > p.attainment).map((p) => [p.rate, p.attainment * 100, (p.upper ?? 0) * 100] as const),
    })),
    refLines: [{ axis: 'y', value: target * 100, label: `${Math.round(target * 100)}% goal` }],
  });
}

/** Empirical CDF of a metric per mode (log x axis), with the SLO target as a dashed line. */
export function cdfChart(opts: { title: string; subtitle?: string; metric: string; samples: ReadonlyArray<{ name: string; values: readonly number[] }>; target?: number }): string {
  return renderLineChart({
    title: opts.title,
    subtitle: opts.subtitle,
    xLabel: `${opts.metric} (ms, log scale)`,
    yLabel: 'share of requests (%)',
    xLog: true,
    yRange: [0, 100],
    series: opts.samples.map((s) => ({ name: `${s.name} (n=${s.values.length})`, points: cdfPoints(s.values), step: true })),
    refLines: opts.target === undefined ? [] : [{ axis: 'x', value: opts.target, label: `SLO ${fmt(opts.target)} ms` }],
  });
}

function cdfPoints(values: readonly number[]): Array<readonly [number, number]> {
  const v = values.filter((x) => x > 0).sort((a, b) => a - b);
  return v.map((x, i) => [x, ((i + 1) / v.length) * 100] as const);
}

type Pt = readonly [number, number];

/** The screen vertices a series is drawn through (a step series rises vertically at each x). */
function polyline(s: Series, sx: (x: number) => number, sy: (y: number) => number): Pt[] {
  const pts = s.points.map(([x, y]) => [sx(x), sy(y)] as const);
  if (!s.step || pts.length === 0) return pts;
  const out: Pt[] = [[pts[0][0], sy(0)]];
  pts.forEach(([x, y], i) => out.push([x, i === 0 ? sy(0) : pts[i - 1][1]], [x, y]));
  return out;
}

interface Box { x: number; y: number; w: number; h: number }

/** Where a reference line's label goes: the candidate corner whose box the data crosses least. */
function labelPlace(r: RefLine, at: number, plot: Box, lines: readonly Pt[][], series: readonly Series[]): { x: number; y: number; anchor: 'start' | 'end' } {
  const w = r.label.length * 6.6 + 4;
  const h = 13;
  const candidates = r.axis === 'y'
    ? [{ x: plot.x + 6, y: at - 5, anchor: 'start' as const }, { x: plot.x + plot.w - 6, y: at - 5, anchor: 'end' as const },
      { x: plot.x + 6, y: at + 14, anchor: 'start' as const }, { x: plot.x + plot.w - 6, y: at + 14, anchor: 'end' as const }]
    : [{ x: at + 5, y: plot.y + 14, anchor: 'start' as const }, { x: at - 5, y: plot.y + 14, anchor: 'end' as const },
      { x: at + 5, y: plot.y + plot.h - 6, anchor: 'start' as const }, { x: at - 5, y: plot.y + plot.h - 6, anchor: 'end' as const }];
  let best = candidates[0];
  let bestScore = Infinity;
  for (const c of candidates) {
    const box = { x: c.anchor === 'start' ? c.x - 2 : c.x - w + 2, y: c.y - h + 2, w, h };
    let score = 0;
    lines.forEach((pts, i) => {
      // Markers weigh more than a line passing by: a covered marker hides a measurement.
      if (!series[i].step) score += 4 * pts.filter((p) => inBox(p, box, 4)).length;
      for (let k = 1; k < pts.length; k++) if (segmentHitsBox(pts[k - 1], pts[k], box)) score += 1;
    });
    if (score < bestScore) [best, bestScore] = [c, score];
  }
  return best;
}

function inBox([x, y]: Pt, b: Box, pad: number): boolean {
  return x >= b.x - pad && x <= b.x + b.w + pad && y >= b.y - pad && y <= b.y + b.h + pad;
}

/** Whether segment a-b crosses box `b` (Liang-Barsky clipping). */
function segmentHitsBox(a: Pt, c: Pt, b: Box): boolean {
  const [dx, dy] = [c[0] - a[0], c[1] - a[1]];
  let [t0, t1] = [0, 1];
  const edges: Array<[number, number]> = [[-dx, a[0] - b.x], [dx, b.x + b.w - a[0]], [-dy, a[1] - b.y], [dy, b.y + b.h - a[1]]];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return false;
    } else {
      const t = q / p;
      if (p < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
      if (t0 > t1) return false;
    }
  }
  return true;
}

function seriesSvg(s: Series, line: readonly Pt[], color: string, sx: (x: number) => number, sy: (y: number) => number): string[] {
  if (s.points.length === 0) return [];
  const pts = s.points.map(([x, y]) => [sx(x), sy(y)] as const);
  const d = line.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${n(x)},${n(y)}`).join(' ');
  const out = [`<path d="${d}" fill="none" stroke="${color}" stroke-width="2.2"/>`];
  const bounded = new Set((s.ranges ?? []).map((r) => r[0]));
  if (!s.step) {
    s.points.forEach(([x], i) => {
      if (!bounded.has(x)) out.push(`<circle cx="${n(pts[i][0])}" cy="${n(pts[i][1])}" r="3.5" fill="${color}"/>`);
    });
  }
  for (const [x, lo, hi] of s.ranges ?? []) {
    const [px, y0, y1] = [sx(x), sy(lo), sy(hi)];
    out.push(`<line x1="${n(px)}" y1="${n(y0)}" x2="${n(px)}" y2="${n(y1)}" stroke="${color}" stroke-width="1.5"/>`);
    out.push(`<line x1="${n(px - 4)}" y1="${n(y0)}" x2="${n(px + 4)}" y2="${n(y0)}" stroke="${color}" stroke-width="1.5"/>`);
    out.push(`<circle cx="${n(px)}" cy="${n(y1)}" r="3.5" fill="#ffffff" stroke="${color}" stroke-width="1.5"/>`);
  }
  return out;
}

function widen([lo, hi]: readonly [number, number] | number[], log: boolean): [number, number] {
  if (log) {
    const a = 10 ** Math.floor(Math.log10(lo));
    const b = 10 ** Math.ceil(Math.log10(hi));
    return [a, b > a ? b : a * 10];
  }
  if (hi > lo) return [lo, hi + (hi - lo) * 0.05];
  return [lo - 1, hi + 1];
}

function niceTicks([lo, hi]: readonly [number, number]): number[] {
  const raw = (hi - lo) / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.round(t / step) * step);
  return out;
}

function logTicks([lo, hi]: readonly [number, number]): number[] {
  const out: number[] = [];
  for (let d = lo; d <= hi * (1 + 1e-9); d *= 10) {
    for (const k of [1, 2, 5]) if (d * k <= hi * (1 + 1e-9)) out.push(d * k);
  }
  return out;
}

function fmt(x: number): string {
  if (x !== 0 && Math.abs(x) < 0.01) return x.toExponential(0);
  return Number(x.toPrecision(4)).toString();
}

function n(x: number): string {
  return x.toFixed(1);
}

function line(x1: number, y1: number, x2: number, y2: number, stroke: string): string {
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${stroke}"/>`;
}

function text(x: number, y: number, s: string, o: { anchor?: string; size?: number; weight?: string; fill?: string; halo?: boolean } = {}): string {
  const attrs = [`x="${n(x)}"`, `y="${n(y)}"`];
  if (o.halo === true) attrs.push('stroke="#ffffff"', 'stroke-width="3"', 'paint-order="stroke"');
  if (o.anchor !== undefined) attrs.push(`text-anchor="${o.anchor}"`);
  if (o.size !== undefined) attrs.push(`font-size="${o.size}"`);
  if (o.weight !== undefined) attrs.push(`font-weight="${o.weight}"`);
  if (o.fill !== undefined) attrs.push(`fill="${o.fill}"`);
  return `<text ${attrs.join(' ')}>${esc(s)}</text>`;
}

/** Escapes text for XML content and attributes. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
