import { ApiError, get, query } from '../api.js';
import { card, h } from '../dom.js';
import { fmt, label, t } from '../i18n.js';

async function load({ arg }) {
  if (!arg) return { customer: null };
  const id = encodeURIComponent(arg);
  try {
    const [customer, history] = await Promise.all([get(`/v1/customers/${id}`), get(`/v1/customers/${id}/history${query({ limit: 200 })}`)]);
    return { customer, history };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return { customer: null, missing: arg };
    throw error;
  }
}

function lookup(current) {
  const input = h('input', { type: 'text', id: 'customer-id', value: current ?? '', placeholder: t('customer.lookup'), spellcheck: 'false' });
  return h('form', { class: 'row', id: 'customer-lookup', onsubmit: (e) => { e.preventDefault(); if (input.value.trim()) location.hash = `#/customer/${encodeURIComponent(input.value.trim())}`; } },
    input, h('button', { class: 'primary', type: 'submit' }, t('customer.open')));
}

const STAGE_LIKE = { tier: 'tier', lifecycle_stage: 'stage' };

/** One history row as a sentence: "Tier: medium → high", "entered vip", "flagged at risk". */
function describeChange(item) {
  if (item.kind === 'at_risk') return t(item.after ? 'history.flagged' : 'history.cleared');
  if (item.kind === 'segment') return t(item.after?.member ? 'history.entered' : 'history.exited', { segment: item.after?.segment ?? '' });
  const kind = STAGE_LIKE[item.kind] ?? 'tier';
  return `${t(`kind.${item.kind}`)}: ${item.before === null ? t('common.none') : label(kind, item.before)} → ${label(kind, item.after)}`;
}

function timeline(items) {
  if (!items.length) return h('p', { class: 'muted' }, t('customer.no_history'));
  return h('ol', { class: 'timeline', id: 'customer-history' }, items.map((item) => h('li', { class: `kind-${item.kind}`, dataset: { kind: item.kind } },
    h('time', { datetime: item.changed_at }, fmt.dateTime(item.changed_at)),
    h('div', { class: 'change' }, describeChange(item)),
    item.reasons.length ? h('div', { class: 'reasons' }, item.reasons.map((r) => (r && typeof r === 'object' ? (r.detail ?? r.code) : String(r))).join('; ')) : null,
  )));
}

function draw(root, { customer, history, missing }) {
  root.append(h('div', { class: 'view-head' }, h('h1', {}, customer ? customer.id : t('customer.title')), lookup(customer?.id ?? missing)));
  if (missing) root.append(h('p', { class: 'error', role: 'alert' }, t('customer.not_found')));
  if (!customer) return;
  const m = customer.metrics ?? {};
  const facts = (pairs) => h('dl', { class: 'facts' }, pairs.flatMap(([k, v]) => [h('dt', {}, t(k)), h('dd', { dataset: { field: k.replace('field.', '') } }, v)]));
  const s = customer.scores;
  const scores = h('div', { class: 'scores' }, [['R', s?.r_score], ['F', s?.f_score], ['M', s?.m_score], [t('field.value_score'), s?.value_score]]
    .map(([name, v]) => h('div', { class: 'score' }, h('b', {}, v ?? t('common.none')), h('span', {}, name))));
  const playbook = customer.playbook
    ? h('div', { class: 'playbook', id: 'customer-playbook' }, h('strong', {}, `${t('customer.playbook')}: `), customer.playbook.summary,
      customer.playbook.actions.length ? h('ul', {}, customer.playbook.actions.map((a) => h('li', {}, a))) : null)
    : null;
  const risk = customer.at_risk.flagged
    ? h('div', { class: 'row' }, h('span', { class: 'chip bad' }, t('field.at_risk')), customer.at_risk.reasons.map((r) => h('span', { class: 'chip warn', title: r.detail }, label('reason', r.code))))
    : null;
  const p = customer.predictions;
  root.append(h('div', { class: 'profile' },
    h('div', { class: 'grid' },
      card(t('customer.tier'),
        h('div', { class: 'row' }, h('span', { class: 'chip', id: 'customer-tier' }, label('tier', customer.tier)),
          h('span', { class: 'chip', id: 'customer-stage' }, label('stage', customer.lifecycle_stage)),
          customer.rfm_segment ? h('span', { class: 'chip' }, label('segment', customer.rfm_segment)) : null,
          customer.abc_class ? h('span', { class: 'chip' }, `ABC ${customer.abc_class}`) : null),
        risk, playbook),
      card(t('customer.scores'), scores),
      card(t('customer.metrics'), facts([
        ['field.order_count', fmt.int(m.order_count)], ['field.net_revenue', fmt.money(m.net_revenue)], ['field.avg_order_value', fmt.money(m.avg_order_value)],
        ['field.first_order_at', fmt.date(m.first_order_at)], ['field.last_order_at', fmt.date(m.last_order_at)], ['field.recency_days', fmt.num(m.recency_days, 0)],
        ['field.cadence_days', fmt.num(m.cadence_days, 0)], ['field.orders_365d', fmt.int(m.orders_365d)], ['field.revenue_365d', fmt.money(m.revenue_365d)],
        ['field.preferred_channel', label('channel', m.preferred_channel)], ['field.region', m.region ?? t('common.none')],
        ['field.price_sensitivity', label('sensitivity', m.price_sensitivity)],
      ])),
      card(t('customer.predictions'), facts([
        ['at_risk.p_alive', fmt.pct(p?.p_alive, 0)], ['field.expected_orders_90d', fmt.num(p?.expected_orders_90d, 2)], ['field.clv_12m', fmt.money(p?.clv_12m)],
      ])),
      customer.segments.length ? card(t('customer.segments'), h('div', {}, customer.segments.map((k) => h('span', { class: 'chip' }, k)))) : null,
    ),
    card(t('customer.history'), timeline(history.items)),
  ));
}

export default { load, draw };
