import en from './i18n/en.js';
import zhCN from './i18n/zh-CN.js';
import labels from './i18n/labels.js';

const DICTIONARIES = { en, 'zh-CN': zhCN };
const STORAGE = 'tierwise.lang';

function initialLocale() {
  const saved = localStorage.getItem(STORAGE);
  if (saved && DICTIONARIES[saved]) return saved;
  return navigator.language?.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

let locale = initialLocale();
let currency = sessionStorage.getItem('tierwise.currency') ?? 'USD';

export const getLocale = () => locale;
export function setLocale(next) {
  locale = DICTIONARIES[next] ? next : 'en';
  localStorage.setItem(STORAGE, locale);
  document.documentElement.lang = locale;
}
export function setCurrency(code) {
  currency = code;
  sessionStorage.setItem('tierwise.currency', code);
}

/** The label for `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = DICTIONARIES[locale][key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** A code the API returns (stage, segment, reason, tier, channel) in the current language. */
export function label(kind, code) {
  if (code === null || code === undefined) return kind === 'tier' ? t('common.no_tier') : t('common.none');
  return labels[locale]?.[kind]?.[code] ?? labels.en[kind]?.[code] ?? String(code);
}

/** Fills every [data-i18n] element under `root`. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

const TIER_ORDER = ['high', 'medium', 'low', 'A', 'B', 'C'];
/** Preset tiers best first, other keys alphabetically, "no tier" last. */
export function compareTiers(a, b) {
  const rank = (k) => (k === null ? 1e9 : TIER_ORDER.includes(k) ? TIER_ORDER.indexOf(k) : 100);
  return rank(a) - rank(b) || String(a).localeCompare(String(b));
}

const NONE = () => t('common.none');
const present = (v) => v !== null && v !== undefined && v !== '' && !Number.isNaN(Number(v));

export const fmt = {
  int: (v) => (present(v) ? new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(Number(v)) : NONE()),
  num: (v, digits = 1) => (present(v) ? new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(Number(v)) : NONE()),
  /** Money arrives as exact decimal strings; it is rounded only for display. */
  money: (v) => (present(v) ? new Intl.NumberFormat(locale, { style: 'currency', currency }).format(Number(v)) : NONE()),
  wholeMoney: (v) => (present(v) ? new Intl.NumberFormat(locale, { style: 'currency', currency, maximumFractionDigits: 0 }).format(Number(v)) : NONE()),
  compactMoney: (v) =>
    present(v) ? new Intl.NumberFormat(locale, { style: 'currency', currency, notation: 'compact', maximumFractionDigits: 1 }).format(Number(v)) : NONE(),
  pct: (v, digits = 1) => (present(v) ? new Intl.NumberFormat(locale, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(Number(v)) : NONE()),
  date: (v) => (v ? new Intl.DateTimeFormat(locale, { dateStyle: 'medium' }).format(new Date(v)) : NONE()),
  dateTime: (v) => (v ? new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(v)) : NONE()),
};
