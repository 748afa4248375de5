import { ApiError, download, get, query } from '../api.js';
import { card, h, table } from '../dom.js';
import { fmt, t } from '../i18n.js';
import { customerList } from './customer-table.js';

async function load() {
  const [segments, sizes] = await Promise.all([get('/v1/segments'), get('/v1/reports/segment-sizes')]);
  const members = new Map(sizes.items.map((s) => [s.key, s.members]));
  return { segments: segments.items.map((s) => ({ ...s, members: members.get(s.key) ?? 0 })) };
}

function draw(root, { segments }, { arg }) {
  const membersCard = h('section', { class: 'card', id: 'segment-members' });
  const webhooksCard = h('section', { class: 'card', id: 'webhooks' }, h('h2', {}, t('webhooks.title')), h('p', { class: 'muted' }, t('common.loading')));

  async function show(segment) {
    history.replaceState(null, '', `#/segments/${encodeURIComponent(segment.key)}`);
    const list = h('div', {});
    membersCard.replaceChildren(h('h2', {}, t('segments.members_of', { name: segment.name })), list);
    await customerList(list, { segment: segment.key, sort: '-net_revenue' }, ['id', 'tier', 'stage', 'segment', 'orders', 'revenue', 'last']);
  }
  const exportButton = (s) => h('button', { class: 'secondary', type: 'button', dataset: { export: s.key },
    onclick: () => download(`/v1/segments/${encodeURIComponent(s.key)}/export${query({ format: 'csv' })}`, `${s.key}.csv`) }, t('segments.export'));
  const list = segments.length
    ? table([
      { key: 'name', label: t('segments.name'), value: (s) => h('a', { href: `#/segments/${encodeURIComponent(s.key)}`, onclick: (e) => { e.preventDefault(); show(s); } }, s.name) },
      { key: 'key', label: t('segments.key'), value: (s) => h('code', {}, s.key) },
      { key: 'members', label: t('segments.members'), num: true, value: (s) => fmt.int(s.members) },
      { key: 'export', label: '', value: exportButton },
    ], segments, { id: 'segments-table' })
    : h('p', { class: 'muted' }, t('common.empty'));
  root.append(
    h('div', { class: 'view-head' }, h('div', {}, h('h1', {}, t('segments.title')), h('p', { class: 'muted' }, t('segments.subtitle')))),
    h('div', { class: 'grid' }, card(null, list), membersCard, webhooksCard),
  );
  const chosen = segments.find((s) => s.key === arg) ?? segments[0];
  if (chosen) show(chosen);
  else membersCard.hidden = true;
  drawWebhooks(webhooksCard);
}

const OUTCOME = { succeeded: 'good', failed: 'bad', pending: 'warn' };

/** Webhooks are admin-only: a customers:read key gets a plain notice, not an error. */
async function drawWebhooks(into) {
  const title = h('h2', {}, t('webhooks.title'));
  let endpoints;
  try {
    endpoints = (await get('/v1/webhooks')).items;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) into.replaceChildren(title, h('p', { class: 'notice', id: 'webhooks-needs-admin' }, t('webhooks.needs_admin')));
    else into.replaceChildren(title, h('p', { class: 'error' }, t('error.generic', { detail: error.message })));
    return;
  }
  // Endpoints are few; each shows its latest deliveries (one call per endpoint).
  const recent = await Promise.all(endpoints.map((e) => get(`/v1/webhooks/${encodeURIComponent(e.id)}/deliveries${query({ limit: 10 })}`)));
  const rows = endpoints.map((e, i) => ({ ...e, deliveries: recent[i].items }));
  into.replaceChildren(title, rows.length ? table([
    { key: 'url', label: t('webhooks.url'), value: (e) => h('div', {}, h('code', {}, e.url), e.description ? h('div', { class: 'muted' }, e.description) : null) },
    { key: 'events', label: t('webhooks.events'), value: (e) => e.events.map((ev) => h('span', { class: 'chip' }, ev)) },
    { key: 'status', label: t('webhooks.status'), value: (e) => h('span', { class: `chip ${e.enabled ? 'good' : 'bad'}`, title: e.disabled_reason ?? '' }, t(e.enabled ? 'webhooks.enabled' : 'webhooks.disabled')) },
    { key: 'deliveries', label: t('webhooks.recent'), value: (e) => h('div', { class: 'deliveries' }, e.deliveries.map((d) => {
      const last = d.attempts.at(-1);
      const detail = last ? `${last.status_code ?? last.error ?? ''} · ${last.duration_ms} ms · ${fmt.dateTime(last.at)}` : '';
      return h('span', { class: `chip ${OUTCOME[d.status] ?? ''}`, title: `${d.event_type} ${detail}` }, `${d.event_type.replace(/^customer\./, '')} · ${last?.status_code ?? d.status}`);
    })) },
  ], rows, { id: 'webhooks-table' }) : h('p', { class: 'muted' }, t('common.empty')));
}

export default { load, draw };
