// A small SVG line plot with logarithmic axes, for benchmark curves. No dependency:
// the results are a few series of a few points each.

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
  readonly dashed?: boolean;
}

export function logLogPlot(title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
  const W = 720;
  const H = 440;
  const m = { l: 80, r: 190, t: 40, b: 56 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => y > 0);
  const x0 = Math.floor(Math.log10(Math.min(...xs)));
  const x1 = Math.ceil(Math.log10(Math.max(...xs)));
  const y0 = Math.floor(Math.log10(Math.min(...ys)));
  const y1 = Math.ceil(Math.log10(Math.max(...ys)));
  const X = (x: number) => m.l + ((Math.log10(x) - x0) / Math.max(1, x1 - x0)) * (W - m.l - m.r);
  const Y = (y: number) => H - m.b - ((Math.log10(y) - y0) / Math.max(1, y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (let e = x0; e <= x1; e++) {
    const x = X(10 ** e);
    out.push(`<line x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#ddd"/>`);
    out.push(`<text x="${x}" y="${H - m.b + 18}" text-anchor="middle">${fmt(10 ** e)}</text>`);
  }
  for (let e = y0; e <= y1; e++) {
    const y = Y(10 ** e);
    out.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 8}" y="${y + 4}" text-anchor="end">${fmt(10 ** e)}</text>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 14}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(
    `<text transform="translate(20 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => p[1] > 0);
    const d = pts.map((p, k) => `${k ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const p of pts)
      out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = m.t + 10 + i * 20;
    out.push(
      `<line x1="${W - m.r + 14}" y1="${ly}" x2="${W - m.r + 38}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${W - m.r + 44}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function fmt(v: number): string {
  return v >= 1000 ? `${v / 1000}k`.replace('000k', 'M') : String(v);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
