import { get, query, report as fetchReport } from '../api.js';
import { chart } from '../charts.js';
import { card, dataTable, h, kpi } from '../dom.js';
import { fmt, label, t } from '../i18n.js';
import { customerList, PAGE_SIZE } from './customer-table.js';

// Revenue at risk is the net revenue of an at-risk customer, so the listing's revenue order is it.
const PARAMS = { at_risk: 'true', sort: '-net_revenue' };

async function load() {
  const [report, page] = await Promise.all([fetchReport('at-risk'), get(`/v1/customers${query({ limit: PAGE_SIZE, ...PARAMS })}`)]);
  return { report, page };
}

function draw(root, { report, page }) {
  const reasons = report.by_reason.filter((r) => r.customers > 0 || r.code !== 'low_p_alive');
  const el = h('div', { class: 'chart', id: 'chart-at-risk' });
  const list = h('div', { id: 'at-risk-customers' });
  root.append(
    h('div', { class: 'view-head' }, h('div', {}, h('h1', {}, t('at_risk.title')), h('p', { class: 'muted' }, t('at_risk.subtitle')))),
    h('div', { class: 'kpis' },
      kpi(t('kpi.at_risk'), fmt.int(report.customers), { id: 'at_risk', class: 'warn' }),
      kpi(t('kpi.revenue_at_risk'), fmt.money(report.net_revenue), { id: 'revenue_at_risk', class: 'warn' }),
    ),
    h('div', { class: 'grid' },
      card(t('at_risk.by_reason'), el, dataTable(t('common.data'), [
        { key: 'code', label: t('at_risk.reasons'), value: (r) => label('reason', r.code) },
        { key: 'customers', label: t('common.customers'), num: true, value: (r) => fmt.int(r.customers) },
        { key: 'net_revenue', label: t('common.revenue'), num: true, value: (r) => fmt.money(r.net_revenue) },
      ], reasons, 'reasons')),
      card(null, list),
    ),
  );
  const rows = [...reasons].reverse();
  chart(el, {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    legend: { top: 0, itemGap: 24 },
    grid: { left: 10, right: 60, top: 30, bottom: 10, containLabel: true },
    yAxis: { type: 'category', data: rows.map((r) => label('reason', r.code)) },
    xAxis: [{ type: 'value', axisLabel: { formatter: (v) => fmt.int(v) } }, { type: 'value', show: false }],
    series: [
      { name: t('common.customers'), type: 'bar', data: rows.map((r) => r.customers), label: { show: true, position: 'right', formatter: (p) => fmt.int(p.value) } },
      { name: t('common.revenue'), type: 'bar', xAxisIndex: 1, data: rows.map((r) => Number(r.net_revenue)), tooltip: { valueFormatter: (v) => fmt.money(v) }, label: { show: true, position: 'right', formatter: (p) => fmt.compactMoney(p.value) } },
    ],
  });
  customerList(list, PARAMS, ['id', 'revenue', 'reasons', 'since', 'pAlive', 'tier', 'stage', 'last'], page);
}

export default { load, draw };
