import { ApiError, clearKey, get, getKey, query, REPORT_MAX_AGE, setKey } from './api.js';
import { disposeCharts } from './charts.js';
import { h } from './dom.js';
import { getLocale, setCurrency, setLocale, t, translatePage } from './i18n.js';
import overview from './views/overview.js';
import rfm from './views/rfm.js';
import migration from './views/migration.js';
import atRisk from './views/at-risk.js';
import customer from './views/customer.js';
import segments from './views/segments.js';

const VIEWS = { overview, rfm, migration, 'at-risk': atRisk, customer, segments };
const $ = (id) => document.getElementById(id);

/** '#/customer/abc?x=1' → { name: 'customer', arg: 'abc', params }; a malformed one (#/customer/%E0) → the overview. */
function parseRoute() {
  const [path, search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...rest] = path.split('/');
  if (!VIEWS[name]) return { name: 'overview', arg: undefined, params: new URLSearchParams(search) };
  try {
    return { name, arg: rest.length ? decodeURIComponent(rest.join('/')) : undefined, params: new URLSearchParams(search) };
  } catch {
    return { name: 'overview', arg: undefined, params: new URLSearchParams() };
  }
}

export function describeError(error) {
  if (error instanceof ApiError && error.status === 401) return t('error.unauthorized');
  if (error instanceof ApiError && error.status === 403) return t('error.forbidden');
  return t('error.generic', { detail: error.message });
}

let rendering = 0;
async function render() {
  translatePage();
  const signedIn = Boolean(getKey());
  $('login').hidden = signedIn;
  $('view').hidden = !signedIn;
  $('nav').hidden = !signedIn;
  $('logout').hidden = !signedIn;
  if (!signedIn) {
    $('key').focus();
    return;
  }
  const route = parseRoute();
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === route.name);
  const ticket = ++rendering;
  disposeCharts();
  const root = $('view');
  root.dataset.view = route.name;
  delete document.body.dataset.ready;
  root.replaceChildren(h('p', { class: 'muted' }, t('common.loading')));
  const view = VIEWS[route.name];
  try {
    // Each view loads its data (one or two API calls), then draws synchronously into the page, so
    // its charts get a laid-out element; a newer navigation that finished loading first wins.
    const data = await view.load(route);
    if (ticket !== rendering) return;
    root.replaceChildren();
    view.draw(root, data, route);
  } catch (error) {
    if (ticket !== rendering) return;
    if (error instanceof ApiError && error.status === 401) return signOut(t('error.unauthorized'));
    root.replaceChildren(h('p', { class: 'error', role: 'alert' }, describeError(error)));
  }
  document.body.dataset.ready = route.name;
}

function signOut(message) {
  clearKey();
  disposeCharts();
  render();
  if (message) showLoginError(message);
}

function showLoginError(message) {
  $('login-error').textContent = message;
  $('login-error').hidden = false;
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('key').value.trim();
  $('login-error').hidden = true;
  try {
    // The summary answers for any customers:read key and carries the deployment's currency.
    const summary = await get(`/v1/reports/summary${query({ max_age: REPORT_MAX_AGE })}`, key);
    setKey(key);
    setCurrency(summary.currency);
    $('key').value = '';
    if (!location.hash) location.hash = '#/overview';
    else render();
  } catch (error) {
    showLoginError(describeError(error));
  }
});

$('logout').addEventListener('click', () => signOut());
$('lang').value = getLocale();
$('lang').addEventListener('change', () => {
  setLocale($('lang').value);
  render();
});
addEventListener('hashchange', render);
setLocale(getLocale());
render();
