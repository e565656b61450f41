/** A small dependency-free SVG line chart (two stacked panels) for the example's results. */
export interface Series {
  label: string;
  color: string;
  values: ArrayLike<number>;
}

export interface Panel {
  title: string;
  series: Series[];
}

function path(values: ArrayLike<number>, x0: number, w: number, y0: number, h: number, lo: number, hi: number): string {
  const n = values.length;
  let d = '';
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    const x = x0 + (i / Math.max(1, n - 1)) * w;
    const y = y0 + h - ((v - lo) / (hi - lo || 1)) * h;
    d += `${d ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
  }
  return d;
}

export function lineChartSvg(panels: Panel[], markers: number[], samples: number, width = 1100, panelHeight = 240): string {
  const m = { l: 60, r: 20, t: 30, b: 30 };
  const H = panels.length * (panelHeight + m.t + m.b);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" font-family="sans-serif" font-size="12">`, `<rect width="100%" height="100%" fill="white"/>`];
  panels.forEach((p, k) => {
    const y0 = k * (panelHeight + m.t + m.b) + m.t;
    const w = width - m.l - m.r;
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of p.series) for (let i = 0; i < s.values.length; i++) { const v = s.values[i]!; if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
    out.push(`<text x="${m.l}" y="${y0 - 10}" font-weight="bold">${p.title}</text>`);
    out.push(`<rect x="${m.l}" y="${y0}" width="${w}" height="${panelHeight}" fill="none" stroke="#999"/>`);
    out.push(`<text x="${m.l - 6}" y="${y0 + 10}" text-anchor="end">${hi.toFixed(2)}</text><text x="${m.l - 6}" y="${y0 + panelHeight}" text-anchor="end">${lo.toFixed(2)}</text>`);
    for (const mk of markers) {
      const x = m.l + (mk / Math.max(1, samples - 1)) * w;
      out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y0}" y2="${y0 + panelHeight}" stroke="#ddd" stroke-dasharray="3,3"/>`);
    }
    p.series.forEach((s, i) => {
      out.push(`<path d="${path(s.values, m.l, w, y0, panelHeight, lo, hi)}" fill="none" stroke="${s.color}" stroke-width="1.2"/>`);
      out.push(`<text x="${m.l + 10 + i * 220}" y="${y0 + panelHeight + 20}" fill="${s.color}">■ ${s.label}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n');
}
