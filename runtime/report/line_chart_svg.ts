/**
 * A small, dependency-free SVG line chart for reports (accuracy over the clip, forecast error over
 * time). Self-contained markup: opens in any browser and renders on GitHub.
 */
export interface ChartSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  color?: string;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  /** Fixed y range; default: the data's range with a margin. */
  yRange?: [number, number];
  xRange?: [number, number];
  /** A logarithmic x axis (ticks at powers of ten; points at x ≤ 0 are left out). DET curves use it. */
  xLog?: boolean;
  width?: number;
  height?: number;
  /** Points to mark with a dot and a label (e.g. a DET curve's operating threshold). */
  markers?: readonly { x: number; y: number; label: string }[];
  /** Format tick labels (default: up to 3 significant digits). */
  yFormat?: (v: number) => string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

export function lineChartSvg(o: LineChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 400;
  const m = { l: 64, r: 150, t: 40, b: 52 };
  const lx = (x: number) => (o.xLog ? Math.log10(x) : x);
  const keep = (p: readonly [number, number]) => Number.isFinite(p[1]) && Number.isFinite(lx(p[0]));
  const all = o.series.flatMap((s) => s.points.filter(keep));
  const xs = all.map((p) => lx(p[0]));
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  let [x0, x1] = o.xRange ? [lx(o.xRange[0]), lx(o.xRange[1])] : [Math.min(...xs), Math.max(...xs)];
  if (o.xLog) [x0, x1] = [Math.floor(x0), Math.ceil(x1)];
  let [y0, y1] = o.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (!o.yRange) {
    const pad = (y1 - y0) * 0.05 || Math.abs(y1) * 0.1 || 1;
    y0 -= pad;
    y1 += pad;
  }
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const fmt = o.yFormat ?? ((v: number) => String(Number(v.toPrecision(3))));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${esc(fmt(t))}</text>`);
  }
  const xTicks = o.xLog ? Array.from({ length: x1 - x0 + 1 }, (_, i) => x0 + i) : niceTicks(x0, x1, 8);
  for (const t of xTicks) {
    const label = o.xLog ? String(Number((10 ** t).toPrecision(4))) : String(Number(t.toPrecision(4)));
    parts.push(`<line x1="${px(t)}" x2="${px(t)}" y1="${H - m.b}" y2="${H - m.b + 4}" stroke="#333"/>`);
    parts.push(`<text x="${px(t)}" y="${H - m.b + 18}" text-anchor="middle">${esc(label)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter(keep).map((p) => `${px(lx(p[0])).toFixed(1)},${py(p[1]).toFixed(1)}`);
    if (pts.length > 0) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    const ly = m.t + 12 + i * 18;
    parts.push(`<line x1="${W - m.r + 10}" x2="${W - m.r + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${W - m.r + 36}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  for (const mk of o.markers ?? []) {
    if (!Number.isFinite(lx(mk.x)) || !Number.isFinite(mk.y)) continue;
    const x = px(lx(mk.x));
    const y = py(mk.y);
    parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="5" fill="#d62728"/>`);
    parts.push(`<text x="${(x + 8).toFixed(1)}" y="${(y - 8).toFixed(1)}" fill="#d62728">${esc(mk.label)}</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
