import { report } from '../api.js';
import { chart, encodeHTML } from '../charts.js';
import { card, dataTable, h, kpi, table } from '../dom.js';
import { compareTiers, fmt, label, t } from '../i18n.js';

const STAGE_ORDER = ['prospect', 'new', 'active', 'loyal', 'reactivated', 'at_risk', 'lapsed'];
// Healthy stages in greens and blues, warnings in orange, the lost in grey.
const STAGE_COLOURS = { prospect: '#a5b4fc', new: '#22b8cf', active: '#3b5bdb', loyal: '#2f9e44', reactivated: '#ae3ec9', at_risk: '#f76707', lapsed: '#868e96' };

async function load() {
  const [summary, pareto] = await Promise.all([report('summary'), report('pareto')]);
  return { summary, pareto };
}

function draw(root, { summary, pareto }) {
  const tiers = summary.by_tier.filter((g) => g.key !== null).sort((a, b) => compareTiers(a.key, b.key));
  const stages = [...summary.by_lifecycle_stage].sort((a, b) => STAGE_ORDER.indexOf(a.key) - STAGE_ORDER.indexOf(b.key));
  const groupColumns = (kind) => [
    { key: 'key', label: t(kind === 'tier' ? 'field.tier' : kind === 'stage' ? 'field.lifecycle_stage' : 'field.abc_class'), value: (g) => label(kind, g.key) },
    { key: 'customers', label: t('common.customers'), num: true, value: (g) => fmt.int(g.customers) },
    { key: 'share', label: t('common.share'), num: true, value: (g) => fmt.pct(g.share) },
    { key: 'net_revenue', label: t('common.revenue'), num: true, value: (g) => fmt.money(g.net_revenue) },
    { key: 'revenue_share', label: t('common.revenue_share'), num: true, value: (g) => fmt.pct(g.revenue_share) },
  ];

  const tierChart = h('div', { class: 'chart', id: 'chart-tiers' });
  const stageChart = h('div', { class: 'chart', id: 'chart-lifecycle' });
  const paretoChart = h('div', { class: 'chart', id: 'chart-pareto' });
  root.append(
    h('div', { class: 'view-head' }, h('div', {}, h('h1', {}, t('overview.title')), h('p', { class: 'muted' }, t('overview.subtitle'), ' · ', t('common.as_of', { time: fmt.dateTime(summary.computed_at) })))),
    h('div', { class: 'kpis' },
      kpi(t('kpi.customers'), fmt.int(summary.customers), { id: 'customers' }),
      kpi(t('kpi.buyers'), fmt.int(summary.buyers), { id: 'buyers' }),
      kpi(t('kpi.prospects'), fmt.int(summary.prospects), { id: 'prospects' }),
      kpi(t('kpi.revenue'), fmt.wholeMoney(summary.net_revenue), { id: 'revenue' }),
      kpi(t('kpi.at_risk'), fmt.int(summary.at_risk.customers), { id: 'at_risk', class: 'warn' }),
      kpi(t('kpi.revenue_at_risk'), fmt.wholeMoney(summary.at_risk.net_revenue), { id: 'revenue_at_risk', class: 'warn' }),
      kpi(t('kpi.top20'), fmt.pct(summary.top_20_percent_revenue_share), { id: 'top20' }),
    ),
    h('div', { class: 'grid cols-2' },
      card(t('overview.by_tier'), tierChart, dataTable(t('common.data'), groupColumns('tier'), tiers, 'tiers')),
      card(t('overview.lifecycle'), stageChart, dataTable(t('common.data'), groupColumns('stage'), stages, 'lifecycle')),
      card(t('overview.pareto'), paretoChart),
      card(t('overview.abc'), table(groupColumns('abc'), summary.by_abc_class.filter((g) => g.key !== null).sort((a, b) => a.key.localeCompare(b.key)), { id: 'abc-table', class: 'abc' })),
    ),
  );

  chart(tierChart, {
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0, itemGap: 24 },
    grid: { left: 56, right: 72, top: 36, bottom: 56 },
    xAxis: { type: 'category', data: tiers.map((g) => label('tier', g.key)) },
    yAxis: [
      { type: 'value', name: t('common.customers'), axisLabel: { formatter: (v) => fmt.int(v) } },
      { type: 'value', name: t('common.revenue'), axisLabel: { formatter: (v) => fmt.compactMoney(v) }, splitLine: { show: false } },
    ],
    series: [
      { name: t('common.customers'), type: 'bar', data: tiers.map((g) => g.customers), label: { show: true, position: 'top', formatter: (p) => fmt.int(p.value) } },
      { name: t('common.revenue'), type: 'bar', yAxisIndex: 1, data: tiers.map((g) => Number(g.net_revenue)), tooltip: { valueFormatter: (v) => fmt.money(v) } },
    ],
  });

  chart(stageChart, {
    tooltip: { trigger: 'item', formatter: (p) => encodeHTML(`${p.name}: ${fmt.int(p.value)} (${fmt.pct(p.value / Math.max(summary.customers, 1))})`) },
    series: [{
      type: 'funnel', left: '8%', width: '84%', top: 10, bottom: 10, sort: 'descending', gap: 2, minSize: '30%',
      label: { show: true, position: 'inside', formatter: (p) => `${p.name}  ${fmt.int(p.value)}`, color: '#fff' },
      data: stages.map((g) => ({ name: label('stage', g.key), value: g.customers, itemStyle: { color: STAGE_COLOURS[g.key] ?? '#adb5bd' } })),
    }],
  });

  const points = pareto.points.map((p) => [p.buyer_share * 100, p.revenue_share * 100]);
  chart(paretoChart, {
    tooltip: { trigger: 'axis', valueFormatter: (v) => fmt.pct(v / 100) },
    grid: { left: 56, right: 44, top: 24, bottom: 44 },
    xAxis: { type: 'value', min: 0, max: 100, name: t('pareto.buyers'), nameLocation: 'middle', nameGap: 28, axisLabel: { formatter: (v) => fmt.pct(v / 100, 0) } },
    yAxis: { type: 'value', min: 0, max: 100, name: t('pareto.revenue'), axisLabel: { formatter: (v) => fmt.pct(v / 100, 0) } },
    series: [
      {
        name: t('pareto.revenue'), type: 'line', data: points, showSymbol: false, smooth: false, areaStyle: { opacity: 0.12 },
        markLine: { symbol: 'none', silent: true, lineStyle: { type: 'dashed', color: '#868e96' }, label: { formatter: (p) => fmt.pct(p.value / 100, 0) }, data: [{ xAxis: 20 }, { yAxis: 80 }] },
      },
      { name: t('pareto.equal'), type: 'line', data: [[0, 0], [100, 100]], showSymbol: false, lineStyle: { type: 'dotted', color: '#adb5bd' }, tooltip: { show: false } },
    ],
  });
}

export default { load, draw };
