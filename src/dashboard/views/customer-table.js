import { get, query } from '../api.js';
import { h, table } from '../dom.js';
import { fmt, label, t } from '../i18n.js';

export const PAGE_SIZE = 25;

export const customerLink = (id) => h('a', { href: `#/customer/${encodeURIComponent(id)}`, class: 'customer-link' }, id);

const COLUMNS = {
  id: () => ({ key: 'id', label: t('field.id'), value: (c) => customerLink(c.id) }),
  tier: () => ({ key: 'tier', label: t('field.tier'), value: (c) => label('tier', c.tier) }),
  stage: () => ({ key: 'lifecycle_stage', label: t('field.lifecycle_stage'), value: (c) => label('stage', c.lifecycle_stage) }),
  segment: () => ({ key: 'rfm_segment', label: t('field.rfm_segment'), value: (c) => label('segment', c.rfm_segment) }),
  rf: () => ({ key: 'rf', label: 'R · F · M', value: (c) => (c.scores ? `${c.scores.r_score} · ${c.scores.f_score} · ${c.scores.m_score}` : t('common.none')) }),
  orders: () => ({ key: 'order_count', label: t('field.order_count'), num: true, value: (c) => fmt.int(c.metrics?.order_count) }),
  revenue: () => ({ key: 'net_revenue', label: t('field.net_revenue'), num: true, value: (c) => fmt.money(c.metrics?.net_revenue) }),
  last: () => ({ key: 'last_order_at', label: t('field.last_order_at'), value: (c) => fmt.date(c.metrics?.last_order_at) }),
  reasons: () => ({
    key: 'reasons', label: t('at_risk.reasons'),
    value: (c) => h('span', {}, c.at_risk.reasons.map((r) => h('span', { class: 'chip warn', title: r.detail }, label('reason', r.code)))),
  }),
  since: () => ({ key: 'since', label: t('at_risk.since'), value: (c) => fmt.date(c.at_risk.since) }),
  pAlive: () => ({ key: 'p_alive', label: t('at_risk.p_alive'), num: true, value: (c) => fmt.pct(c.predictions?.p_alive, 0) }),
};

/**
 * A paged customer table over GET /v1/customers with `params` (one call per page, keyset cursor).
 * `into` receives the table; "load more" appends the next page.
 */
export async function customerList(into, params, columns = ['id', 'tier', 'stage', 'segment', 'rf', 'orders', 'revenue', 'last'], first) {
  const cols = columns.map((c) => COLUMNS[c]());
  const page = first ?? (await get(`/v1/customers${query({ limit: PAGE_SIZE, ...params })}`));
  const tbl = table(cols, page.items, { class: 'customers', dataset: { rows: String(page.items.length) } });
  const body = tbl.querySelector('tbody');
  const more = h('button', { class: 'secondary', type: 'button' }, t('common.more'));
  let cursor = page.next_cursor;
  more.hidden = !cursor;
  more.addEventListener('click', async () => {
    more.disabled = true;
    const next = await get(`/v1/customers${query({ limit: PAGE_SIZE, ...params, cursor })}`);
    const extra = table(cols, next.items).querySelector('tbody');
    body.append(...extra.childNodes);
    tbl.dataset.rows = String(body.rows.length);
    cursor = next.next_cursor;
    more.hidden = !cursor;
    more.disabled = false;
  });
  into.replaceChildren(page.items.length ? tbl : h('p', { class: 'muted' }, t('common.empty')), h('div', { class: 'spacer' }), more);
  return page;
}
