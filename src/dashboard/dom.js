// Building DOM nodes with textContent only: customer ids and traits never become markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A table from column definitions { label, value(row) → node|text, num? }. */
export function table(columns, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : undefined }, c.label)))),
    h('tbody', {}, rows.map((row) => h('tr', {}, columns.map((c) => h('td', { class: c.num ? 'num' : undefined, dataset: c.key ? { col: c.key } : undefined }, c.value(row)))))),
  );
}

export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...children);
}

export function kpi(labelText, value, attrs = {}) {
  return h('div', { class: `kpi ${attrs.class ?? ''}`, dataset: { kpi: attrs.id } }, h('div', { class: 'label' }, labelText), h('div', { class: 'value' }, value));
}

/** A collapsed data table under a chart: the same figures as text, for screen readers and copying. */
export function dataTable(title, columns, rows, id) {
  return h('details', { class: 'data', dataset: { table: id } }, h('summary', {}, title), table(columns, rows));
}
