// The plan's chart, hand-written SVG (as bench/chart.ts): monthly cost per component for the design
// card and each fan-out policy (stacked bars), and the hybrid's monthly total against its celebrity
// threshold beside the flat totals of push-to-all, pull-at-read and the rate-based policy.
import { DESIGN_COSTS, POLICIES, POLICY_LABEL, type Bill, type Plan } from '../shared/domain/capacity-model.js';

const W = 1100;
const H = 480;
const TOP = 70;
const BOTTOM = 390;
const PANEL_W = 420;
const LEFT = [90, 620] as const;

const COMPONENTS: { key: keyof Bill; label: string; color: string }[] = [
  { key: 'dynamodbOnDemand', label: 'DynamoDB requests', color: '#1f77b4' },
  { key: 'dynamodbStorage', label: 'DynamoDB storage', color: '#aec7e8' },
  { key: 'redis', label: 'Redis', color: '#d62728' },
  { key: 'lambda', label: 'Lambda', color: '#2ca02c' },
  { key: 'apiGateway', label: 'API Gateway', color: '#ff7f0e' },
  { key: 'messaging', label: 'SQS + Step Functions', color: '#9467bd' },
];
const POLICY_COLOR = { hybrid: '#2ca02c', push: '#1f77b4', pull: '#d62728', rate: '#9467bd' } as const;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const musd = (v: number) => (v >= 1e6 ? `$${+(v / 1e6).toPrecision(3)}M` : `$${+(v / 1e3).toPrecision(3)}K`);
const kfmt = (v: number) => (v >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : v >= 1e3 ? `${+(v / 1e3).toPrecision(3)}K` : String(v));

function yAxis(parts: string[], left: number, ticks: number[], y: (v: number) => number, title: string): void {
  parts.push(`<line x1="${left}" y1="${TOP}" x2="${left}" y2="${BOTTOM}" stroke="#333"/><line x1="${left}" y1="${BOTTOM}" x2="${left + PANEL_W}" y2="${BOTTOM}" stroke="#333"/>`);
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    parts.push(`<line x1="${left}" y1="${ty}" x2="${left + PANEL_W}" y2="${ty}" stroke="#e5e5e5"/><text x="${left - 6}" y="${Number(ty) + 4}" text-anchor="end">${musd(t)}</text>`);
  }
  parts.push(`<text transform="translate(${left - 70},${(TOP + BOTTOM) / 2}) rotate(-90)" text-anchor="middle">${esc(title)}</text>`);
}

function niceStep(max: number): number {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

function barsPanel(parts: string[], p: Plan): void {
  const columns: { label: string; values: Partial<Record<keyof Bill, number>> }[] = [
    { label: 'design card', values: { dynamodbOnDemand: DESIGN_COSTS.dynamodb, redis: DESIGN_COSTS.redis, lambda: DESIGN_COSTS.compute } },
    ...POLICIES.map((k) => ({ label: POLICY_LABEL[k], values: p.policies[k].bill })),
  ];
  const totals = columns.map((c) => COMPONENTS.reduce((s, comp) => s + (c.values[comp.key] ?? 0), 0));
  const step = niceStep(Math.max(...totals, 1));
  const max = Math.ceil(Math.max(...totals, 1) / step) * step;
  const y = (v: number) => BOTTOM - (v / max) * (BOTTOM - TOP);
  const left = LEFT[0];
  yAxis(parts, left, Array.from({ length: Math.round(max / step) + 1 }, (_, i) => i * step), y, 'monthly cost (modelled components)');
  const slot = PANEL_W / columns.length;
  columns.forEach((c, i) => {
    const x = left + i * slot + slot * 0.2;
    let base = 0;
    for (const comp of COMPONENTS) {
      const v = c.values[comp.key] ?? 0;
      if (v <= 0) continue;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(base + v).toFixed(1)}" width="${(slot * 0.6).toFixed(1)}" height="${(y(base) - y(base + v)).toFixed(1)}" fill="${comp.color}"><title>${esc(`${c.label}: ${comp.label} ${musd(v)}`)}</title></rect>`);
      base += v;
    }
    parts.push(`<text x="${(x + slot * 0.3).toFixed(1)}" y="${(y(base) - 5).toFixed(1)}" text-anchor="middle">${musd(base)}</text>`);
    parts.push(`<text x="${(x + slot * 0.3).toFixed(1)}" y="${BOTTOM + 16}" text-anchor="middle" font-size="11">${esc(c.label)}</text>`);
  });
}

function sweepPanel(parts: string[], p: Plan): void {
  const left = LEFT[1];
  const pts = p.sweep.filter((s) => s.total > 0);
  if (pts.length < 2) return;
  const flat = POLICIES.filter((k) => k !== 'hybrid').map((k) => ({ k, v: p.policies[k].bill.total }));
  const all = [...pts.map((s) => s.total), ...flat.map((f) => f.v)];
  const lo = Math.min(...all) * 0.8;
  const hi = Math.max(...all) * 1.25;
  const y = (v: number) => BOTTOM - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (BOTTOM - TOP);
  const x0 = Math.log10(pts[0]!.threshold);
  const x1 = Math.log10(pts.at(-1)!.threshold);
  const x = (t: number) => left + ((Math.log10(t) - x0) / (x1 - x0)) * PANEL_W;
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) if (m * 10 ** e >= lo && m * 10 ** e <= hi) ticks.push(m * 10 ** e);
  yAxis(parts, left, ticks, y, 'monthly cost, log scale');
  for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) parts.push(`<text x="${x(10 ** e).toFixed(1)}" y="${BOTTOM + 16}" text-anchor="middle">${kfmt(10 ** e)}</text>`);
  parts.push(`<text x="${left + PANEL_W / 2}" y="${BOTTOM + 34}" text-anchor="middle">celebrity threshold, followers (log; mega threshold ${kfmt(p.inputs.megaThreshold)} or the threshold if higher)</text>`);
  for (const f of flat) {
    parts.push(`<line x1="${left}" x2="${left + PANEL_W}" y1="${y(f.v).toFixed(1)}" y2="${y(f.v).toFixed(1)}" stroke="${POLICY_COLOR[f.k]}" stroke-width="2" stroke-dasharray="6 4"><title>${esc(`${POLICY_LABEL[f.k]} ${musd(f.v)}`)}</title></line>`);
  }
  parts.push(`<polyline fill="none" stroke="${POLICY_COLOR.hybrid}" stroke-width="2.5" points="${pts.map((s) => `${x(s.threshold).toFixed(1)},${y(s.total).toFixed(1)}`).join(' ')}"/>`);
  const cur = p.policies.hybrid.bill.total;
  const cx = Math.min(left + PANEL_W, Math.max(left, x(p.inputs.celebrityThreshold)));
  parts.push(`<circle cx="${cx.toFixed(1)}" cy="${y(cur).toFixed(1)}" r="5" fill="${POLICY_COLOR.hybrid}"><title>${esc(`hybrid at ${kfmt(p.inputs.celebrityThreshold)}: ${musd(cur)}`)}</title></circle>`);
}

export function renderPlanChart(p: Plan): string {
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="600">feedscale capacity plan — ${esc(kfmt(p.inputs.dau))} daily users, ${p.inputs.regions} regions, hit rate ${(100 * p.inputs.hitRate).toFixed(0)}%</text>`);
  parts.push(`<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">monthly cost per component (left); the hybrid's total against its celebrity threshold, other policies dashed (right)</text>`);
  barsPanel(parts, p);
  sweepPanel(parts, p);
  let lx = LEFT[0];
  for (const c of COMPONENTS) {
    parts.push(`<rect x="${lx}" y="${H - 34}" width="14" height="10" fill="${c.color}"/><text x="${lx + 18}" y="${H - 25}">${esc(c.label)}</text>`);
    lx += 130;
  }
  lx = LEFT[0];
  for (const k of POLICIES) {
    parts.push(`<line x1="${lx}" y1="${H - 10}" x2="${lx + 22}" y2="${H - 10}" stroke="${POLICY_COLOR[k]}" stroke-width="2.5" ${k === 'hybrid' ? '' : 'stroke-dasharray="6 4"'}/><text x="${lx + 28}" y="${H - 6}">${esc(POLICY_LABEL[k])}</text>`);
    lx += 180;
  }
  parts.push('</svg>');
  return parts.join('\n');
}
