// Building the page: elements from plain data, text only (never HTML from the server).

/** `h('a', { href: '#/x', class: 'y' }, 'text', child)`: attributes, then children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * A table with a caption; `rows` are arrays of cells (text or nodes), or `{ cells, target }` where
 * `target` marks the row a link pointed at. On a narrow screen the table scrolls inside its box,
 * which takes keyboard focus so it can be scrolled without a pointer.
 */
export function table(caption, headers, rows, { empty = 'Nothing here.' } = {}) {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  const row = (r) => {
    const { cells, target = false } = Array.isArray(r) ? { cells: r } : r;
    return h('tr', target ? { class: 'target', 'aria-current': 'true' } : {}, cells.map((cell) => h('td', {}, cell)));
  };
  return h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: '0' },
    h(
      'table',
      {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((title) => h('th', { scope: 'col' }, title)))),
      h('tbody', {}, rows.map(row)),
    ),
  );
}

/** A definition list of [term, value] pairs. */
export const facts = (pairs) => h('dl', { class: 'facts' }, pairs.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));

/** Unix seconds as `2024-05-01 12:34 UTC`. */
export function date(seconds) {
  if (!seconds) return '—';
  return `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const json = (value) => h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
export const code = (text) => h('code', {}, text);
export const badge = (text, kind) => h('span', { class: `badge ${kind}` }, text);
