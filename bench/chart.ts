// The chart of a run, hand-written SVG (no dependency): feed-read latency percentiles (log scale)
// and throughput per concurrency, for the L1, L2 and cold paths and the bare node:http server.
import { describe } from './report.js';
import { PATH_LABEL, READ_PATHS, type ReadPath, type Results } from './results.js';

const COLORS: Record<ReadPath, string> = { l1: '#1f77b4', l2: '#2ca02c', cold: '#d62728', bare: '#7f7f7f' };
const DASH = { p50: '', p95: '6 4', p99: '2 3' } as const;

const W = 1100;
const H = 460;
const PANEL = { top: 60, bottom: 380, width: 440 };
const LEFT = [80, 620];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceLogTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

const label = (v: number) => (v >= 1000 ? `${v / 1000}k` : v >= 1 ? String(v) : v.toString());

export function renderChart(r: Results): string {
  const conc = Object.keys(r.sweep.cold ?? r.sweep.l1 ?? {}).map(Number).sort((a, b) => a - b);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">feedscale GET /v1/feed — latency and throughput per concurrency (median of repetitions)</text>`);
  parts.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(describe(r))}${r.meta.cacheWired === false ? ' — feed cache not wired: L1/L2 pending' : ''}</text>`);
  if (conc.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no read sweep in this run</text></svg>`);
    return parts.join('\n');
  }
  const xOf = (left: number, i: number) => left + (conc.length === 1 ? PANEL.width / 2 : (i * PANEL.width) / (conc.length - 1));

  // Latency panel (log y).
  const lats: number[] = [];
  for (const p of READ_PATHS) for (const c of conc) {
    const s = r.sweep[p]?.[c];
    if (s) lats.push(s.p50, s.p95, s.p99);
  }
  const finite = lats.filter((v) => Number.isFinite(v) && v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...finite, 1)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...finite, 10)));
  const yLat = (v: number) => PANEL.bottom - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (PANEL.bottom - PANEL.top);
  axes(parts, LEFT[0]!, niceLogTicks(lo, hi), yLat, 'latency, ms (log)');
  for (const p of READ_PATHS) {
    for (const q of ['p50', 'p95', 'p99'] as const) {
      const pts = conc.map((c, i) => ({ x: xOf(LEFT[0]!, i), v: r.sweep[p]?.[c]?.[q] ?? NaN })).filter((pt) => Number.isFinite(pt.v) && pt.v > 0);
      if (pts.length === 0) continue;
      parts.push(`<polyline fill="none" stroke="${COLORS[p]}" stroke-width="2" ${DASH[q] ? `stroke-dasharray="${DASH[q]}"` : ''} points="${pts.map((pt) => `${pt.x.toFixed(1)},${yLat(pt.v).toFixed(1)}`).join(' ')}"/>`);
      for (const pt of pts) parts.push(`<circle cx="${pt.x.toFixed(1)}" cy="${yLat(pt.v).toFixed(1)}" r="2.5" fill="${COLORS[p]}"><title>${PATH_LABEL[p]} ${q} ${pt.v.toFixed(2)} ms</title></circle>`);
    }
  }
  xAxis(parts, LEFT[0]!, conc, xOf);

  // Throughput panel (log y: the cold path runs at a hundredth of the bare server).
  const rates = READ_PATHS.flatMap((p) => conc.map((c) => r.sweep[p]?.[c]?.rps ?? NaN)).filter((v) => Number.isFinite(v) && v > 0);
  const rlo = 10 ** Math.floor(Math.log10(Math.min(...rates, 10)));
  const rhi = 10 ** Math.ceil(Math.log10(Math.max(...rates, 100)));
  const yRps = (v: number) => PANEL.bottom - ((Math.log10(v) - Math.log10(rlo)) / (Math.log10(rhi) - Math.log10(rlo))) * (PANEL.bottom - PANEL.top);
  axes(parts, LEFT[1]!, niceLogTicks(rlo, rhi), yRps, 'requests/s (log)');
  for (const p of READ_PATHS) {
    const pts = conc.map((c, i) => ({ x: xOf(LEFT[1]!, i), v: r.sweep[p]?.[c]?.rps ?? NaN })).filter((pt) => Number.isFinite(pt.v) && pt.v > 0);
    if (pts.length === 0) continue;
    parts.push(`<polyline fill="none" stroke="${COLORS[p]}" stroke-width="2" points="${pts.map((pt) => `${pt.x.toFixed(1)},${yRps(pt.v).toFixed(1)}`).join(' ')}"/>`);
    for (const pt of pts) parts.push(`<circle cx="${pt.x.toFixed(1)}" cy="${yRps(pt.v).toFixed(1)}" r="3" fill="${COLORS[p]}"><title>${PATH_LABEL[p]} ${Math.round(pt.v)} req/s</title></circle>`);
  }
  xAxis(parts, LEFT[1]!, conc, xOf);

  // Legend.
  let lx = LEFT[0]!;
  const ly = H - 22;
  for (const p of READ_PATHS) {
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${COLORS[p]}" stroke-width="3"/><text x="${lx + 28}" y="${ly + 4}">${esc(PATH_LABEL[p])}</text>`);
    lx += 150;
  }
  for (const q of ['p50', 'p95', 'p99'] as const) {
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="#333" stroke-width="2" ${DASH[q] ? `stroke-dasharray="${DASH[q]}"` : ''}/><text x="${lx + 28}" y="${ly + 4}">${q}</text>`);
    lx += 70;
  }
  parts.push('</svg>');
  return parts.join('\n');
}

function axes(parts: string[], left: number, ticks: number[], y: (v: number) => number, title: string): void {
  parts.push(`<line x1="${left}" y1="${PANEL.top}" x2="${left}" y2="${PANEL.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${left}" y1="${PANEL.bottom}" x2="${left + PANEL.width}" y2="${PANEL.bottom}" stroke="#333"/>`);
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(`<line x1="${left}" y1="${ty}" x2="${left + PANEL.width}" y2="${ty}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${Number(ty) + 4}" text-anchor="end" fill="#333">${label(t)}</text>`);
  }
  parts.push(`<text transform="translate(${left - 55},${(PANEL.top + PANEL.bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#333">${esc(title)}</text>`);
}

function xAxis(parts: string[], left: number, conc: number[], xOf: (left: number, i: number) => number): void {
  conc.forEach((c, i) => parts.push(`<text x="${xOf(left, i).toFixed(1)}" y="${PANEL.bottom + 18}" text-anchor="middle" fill="#333">${c}</text>`));
  parts.push(`<text x="${left + PANEL.width / 2}" y="${PANEL.bottom + 36}" text-anchor="middle" fill="#333">concurrent connections</text>`);
}
