import { get, query, report } from '../api.js';
import { chart, encodeHTML } from '../charts.js';
import { card, h } from '../dom.js';
import { fmt, label, t } from '../i18n.js';
import { customerList, PAGE_SIZE } from './customer-table.js';

const cellParams = (r, f) => ({ r_score: r, f_score: f, sort: '-net_revenue' });

async function load({ params }) {
  const r = Number(params.get('r'));
  const f = Number(params.get('f'));
  const selected = r >= 1 && r <= 5 && f >= 1 && f <= 5 ? { r, f } : null;
  const [grid, page] = await Promise.all([
    report('rfm-grid'),
    selected ? get(`/v1/customers${query({ limit: PAGE_SIZE, ...cellParams(selected.r, selected.f) })}`) : null,
  ]);
  return { grid, selected, page };
}

function draw(root, { grid, selected, page }) {
  const el = h('div', { class: 'chart tall', id: 'chart-rfm' });
  const title = h('h2', { id: 'rfm-cell-title' }, t('rfm.pick'));
  const list = h('div', { id: 'rfm-cell-customers' });
  root.append(
    h('div', { class: 'view-head' }, h('div', {}, h('h1', {}, t('rfm.title')), h('p', { class: 'muted' }, t('rfm.subtitle'), ' · ', t('common.as_of', { time: fmt.dateTime(grid.computed_at) })))),
    h('div', { class: 'grid' }, card(null, el), h('section', { class: 'card' }, title, list)),
  );
  const max = Math.max(1, ...grid.cells.map((c) => c.customers));
  const instance = chart(el, {
    tooltip: {
      formatter: (p) => {
        const c = p.data.cell;
        const lines = [`R${c.r_score} · F${c.f_score} · ${label('segment', c.segment)}`, `${t('common.customers')}: ${fmt.int(c.customers)}`, `${t('common.revenue')}: ${fmt.money(c.net_revenue)}`];
        return lines.map(encodeHTML).join('<br>');
      },
    },
    grid: { left: 70, right: 20, top: 10, bottom: 80 },
    xAxis: { type: 'category', name: t('rfm.frequency'), nameLocation: 'middle', nameGap: 30, data: ['F1', 'F2', 'F3', 'F4', 'F5'], splitArea: { show: true } },
    yAxis: { type: 'category', name: t('rfm.recency'), nameLocation: 'middle', nameGap: 50, data: ['R1', 'R2', 'R3', 'R4', 'R5'], splitArea: { show: true } },
    visualMap: { min: 0, max, calculable: false, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 160, inRange: { color: ['#f1f3ff', '#91a7ff', '#3b5bdb', '#1c2f8a'] }, formatter: (v) => fmt.int(v) },
    series: [{
      type: 'heatmap',
      data: grid.cells.map((c) => ({ value: [c.f_score - 1, c.r_score - 1, c.customers], cell: c })),
      label: {
        show: true,
        formatter: (p) => `${label('segment', p.data.cell.segment)}\n${fmt.int(p.data.cell.customers)}`,
        fontSize: 12, lineHeight: 17,
      },
      itemStyle: { borderColor: '#fff', borderWidth: 3, borderRadius: 6 },
      emphasis: { itemStyle: { borderColor: '#f59f00', borderWidth: 3 } },
    }],
  });

  async function select(r, f, first) {
    const cell = grid.cells.find((c) => c.r_score === r && c.f_score === f);
    title.textContent = `${t('rfm.cell', { r, f, segment: label('segment', cell.segment) })} — ${fmt.int(cell.customers)} ${t('common.customers')}`;
    title.dataset.cell = `${r}:${f}`;
    history.replaceState(null, '', `#/rfm?r=${r}&f=${f}`);
    list.dataset.loaded = '';
    await customerList(list, cellParams(r, f), undefined, first);
    list.dataset.loaded = `${r}:${f}`;
  }
  instance.on('click', (p) => select(p.data.cell.r_score, p.data.cell.f_score));
  if (selected) select(selected.r, selected.f, page);
}

export default { load, draw };
