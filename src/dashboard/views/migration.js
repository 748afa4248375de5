import { get, query } from '../api.js';
import { chart, encodeHTML } from '../charts.js';
import { card, h } from '../dom.js';
import { compareTiers, fmt, label, t } from '../i18n.js';

const DAY = 86_400_000;
const pad = (n) => String(n).padStart(2, '0');
/** The local calendar day of an instant, as <input type=date> shows it. */
const localDate = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;

/**
 * `from` and `to` are days (the tier "at" a day is the tier at the end of it, or now for today) or
 * exact RFC 3339 instants, which links may carry. A day is the user's local day, as the date input
 * gives it: its end is local 23:59:59.999, and instants are shown as their local day.
 */
function range(params, now = new Date()) {
  const instant = (v) => (v && /^\d{4}-\d{2}-\d{2}T/.test(v) && !Number.isNaN(Date.parse(v)) ? new Date(v) : null);
  const endOfDay = (v) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v ?? '');
    if (!m) return null;
    const end = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59, 999);
    return Number.isNaN(end.getTime()) ? null : new Date(Math.min(end.getTime(), now.getTime()));
  };
  const at = (v) => instant(v) ?? endOfDay(v);
  const toAt = at(params.get('to')) ?? now;
  const fromAt = at(params.get('from')) ?? new Date(toAt.getTime() - 30 * DAY);
  return { from: localDate(fromAt), to: localDate(toAt), fromAt: fromAt.toISOString(), toAt: toAt.toISOString() };
}

async function load({ params }) {
  const r = range(params);
  const report = await get(`/v1/reports/tier-migration${query({ from: r.fromAt, to: r.toAt })}`);
  return { report, range: r };
}


function draw(root, { report, range: r }) {
  const keys = [...new Set(report.cells.flatMap((c) => [c.from_tier, c.to_tier]))].sort(compareTiers);
  const count = (f, to) => report.cells.find((c) => c.from_tier === f && c.to_tier === to)?.customers ?? 0;
  const max = Math.max(1, ...report.cells.map((c) => c.customers));
  const shade = (n, same) => (n === 0 ? 'transparent' : `rgba(${same ? '18,184,134' : '59,91,219'},${0.12 + 0.5 * (n / max)})`);

  const fromInput = h('input', { type: 'date', id: 'migration-from', value: r.from });
  const toInput = h('input', { type: 'date', id: 'migration-to', value: r.to });
  const form = h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); location.hash = `#/migration${query({ from: fromInput.value, to: toInput.value })}`; } },
    h('label', {}, `${t('migration.from')} `, fromInput), h('label', {}, `${t('migration.to')} `, toInput),
    h('button', { class: 'primary', type: 'submit' }, t('migration.show')));

  const matrix = h('table', { class: 'matrix', id: 'migration-matrix' },
    h('thead', {}, h('tr', {}, h('th', {}, `${t('migration.from')} \\ ${t('migration.to')}`), keys.map((k) => h('th', { class: 'num' }, label('tier', k))), h('th', { class: 'num' }, t('migration.total')))),
    h('tbody', {}, keys.map((f) => h('tr', {},
      h('th', { class: 'side' }, label('tier', f)),
      keys.map((to) => {
        const n = count(f, to);
        const td = h('td', { class: 'cell', dataset: { from: f ?? '', to: to ?? '' } }, fmt.int(n));
        td.style.background = shade(n, f === to);
        return td;
      }),
      h('td', { class: 'num' }, fmt.int(keys.reduce((s, to) => s + count(f, to), 0))),
    ))),
  );
  const flow = h('div', { class: 'chart tall', id: 'chart-migration' });
  root.append(
    h('div', { class: 'view-head' }, h('div', {}, h('h1', {}, t('migration.title')), h('p', { class: 'muted' }, t('migration.subtitle'))), form),
    h('div', { class: 'grid cols-2' }, card(t('migration.matrix'), matrix), card(t('migration.flow'), flow)),
  );

  const node = (side, k) => `${side}:${k ?? ''}`;
  const links = report.cells.filter((c) => c.customers > 0).map((c) => ({ source: node('from', c.from_tier), target: node('to', c.to_tier), value: c.customers }));
  const nodes = [...new Set(links.flatMap((l) => [l.source, l.target]))].map((name) => ({ name }));
  const display = (name) => label('tier', name.slice(name.indexOf(':') + 1) || null);
  chart(flow, {
    tooltip: { trigger: 'item', formatter: (p) => encodeHTML(p.dataType === 'edge' ? `${display(p.data.source)} → ${display(p.data.target)}: ${fmt.int(p.data.value)}` : display(p.name)) },
    series: [{
      type: 'sankey', left: 20, right: 90, top: 20, bottom: 20, nodeAlign: 'justify', emphasis: { focus: 'adjacency' },
      label: { formatter: (p) => `${display(p.name)}` },
      lineStyle: { color: 'gradient', opacity: 0.4 },
      data: nodes, links,
    }],
  });
}

export default { load, draw };
