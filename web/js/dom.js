// A tiny element builder. Data only ever reaches the page as text (textContent or a text node
// made by append), never as HTML, so a message like "<img onerror=...>" stays words.

/**
 * el(tag, props, ...children). props: class, text, dataset, on<event>, aria-* or role or for, and
 * other attributes by name; children: nodes or strings (strings become text nodes).
 */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e && !k.includes('-') && k !== 'list') e[k] = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c != null && c !== false) e.append(c);
  return e;
}

/** $ returns the element with the id, or throws: a missing one is a bug in index.html. */
export function $(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`chathub: #${id} missing from index.html`);
  return e;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

/** timeEl shows unixTime (seconds) as "14:03", with the date too when it is not today. */
export function timeEl(unixTime, now = new Date()) {
  const d = new Date((unixTime || 0) * 1000);
  const sameDay = d.toDateString() === now.toDateString();
  const text = sameDay ? timeFmt.format(d) : `${dayFmt.format(d)}, ${timeFmt.format(d)}`;
  return el('time', { dateTime: d.toISOString(), title: fullFmt.format(d), text });
}
