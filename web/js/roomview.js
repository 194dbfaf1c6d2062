// The log of one room: events in id order, quiet presence lines, the outbox at the bottom,
// older pages on scrolling up. One RoomView per open room, kept while it is open, so switching
// rooms keeps each one's scroll position.

import { el, timeEl } from './dom.js';

const GROUP_SECONDS = 300; // consecutive messages of one sender within this share one header
const LONG_CHARS = 1200;
const LONG_LINES = 16;
const QUICK_EMOJI = ['👍', '❤️', '😂', '🎉', '😮'];
const QUOTE_CHARS = 120;

export class RoomView {
  /**
   * @param {object} o
   * @param {string} o.roomId
   * @param {() => void} o.onNeedOlder     asked when the top of the log comes into view
   * @param {(ref: string) => void} o.onRetry
   * @param {(ref: string) => void} o.onDiscard
   * @param {(ev: object) => {text: string, edited: boolean, deleted: boolean, reactions: {emoji: string, users: string[]}[]}} o.shown
   * @param {(id: number) => object|undefined} o.lookup  a held event by id
   * @param {(kind: 'reply'|'edit'|'delete'|'react', ev: object, emoji?: string) => void} o.onAction
   */
  constructor({ roomId, onNeedOlder, onRetry, onDiscard, shown, lookup, onAction }) {
    this.roomId = roomId;
    this.onNeedOlder = onNeedOlder;
    this.onRetry = onRetry;
    this.onDiscard = onDiscard;
    this.shown = shown;
    this.lookup = lookup;
    this.onAction = onAction;
    this.typers = new Map(); // userId -> timer: who is typing now
    this.typingLine = el('p', { class: 'typing', 'aria-live': 'polite' });
    this.me = '';
    this.stuck = true; // the reader is at the end of the log (kept while the room is hidden)
    this.olderBtn = el('button', { type: 'button', class: 'link-btn', text: 'Load older messages', onclick: () => this.onNeedOlder() });
    this.topText = el('span', { class: 'top-text' });
    this.top = el('div', { class: 'log-top' }, this.topText, this.olderBtn);
    this.items = el('ol', { class: 'items' });
    this.outbox = el('ol', { class: 'items outbox', 'aria-label': 'Messages being sent' });
    this.title = el('h2', { class: 'room-title' });
    this.meta = el('span', { class: 'room-meta' });
    this.leaveBtn = el('button', { type: 'button', class: 'link-btn leave', text: 'Leave' });
    this.log = el(
      'div',
      { class: 'log', role: 'log', tabIndex: 0, 'aria-live': 'polite', 'aria-relevant': 'additions' },
      this.top,
      this.items,
      this.outbox,
    );
    this.jump = el('button', {
      type: 'button',
      class: 'jump',
      hidden: true,
      text: 'New messages ↓',
      onclick: () => this.scrollToEnd(),
    });
    this.root = el(
      'section',
      { class: 'room', hidden: true, dataset: { room: roomId } },
      el('header', { class: 'room-head' }, this.title, this.meta, this.leaveBtn),
      this.log,
      this.jump,
      this.typingLine,
    );
    this.log.addEventListener('scroll', () => {
      if (this.root.hidden) return;
      this.stuck = this.atEnd();
      if (this.log.scrollTop < 80) this.onNeedOlder();
      if (this.stuck) this.jump.hidden = true;
    });
    this.setTop('loading');
  }

  setTitle(title, isPrivate, meta = '') {
    this.title.textContent = isPrivate ? `@${title}` : `#${title}`;
    this.title.title = isPrivate ? `Private chat with ${title}` : `Room ${title}`;
    this.log.setAttribute('aria-label', isPrivate ? `Private messages with ${title}` : `Messages in ${title}`);
    this.meta.textContent = meta;
    this.leaveBtn.setAttribute('aria-label', isPrivate ? `Close the private chat with ${title}` : `Leave room ${title}`);
    this.leaveBtn.textContent = isPrivate ? 'Close' : 'Leave';
  }

  /** setTop shows what is above the oldest event: 'loading', 'more', 'start' or 'error'. */
  setTop(state, text = '') {
    this.top.dataset.state = state;
    this.olderBtn.hidden = state !== 'more';
    this.topText.textContent =
      text || (state === 'loading' ? 'Loading…' : state === 'start' ? 'This is the beginning of the conversation.' : '');
  }

  show(visible) {
    this.root.hidden = !visible;
    if (visible && this.stuck) this.scrollToEnd();
  }

  atEnd() {
    if (this.root.hidden) return this.stuck;
    const l = this.log;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 48;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
    this.stuck = true;
    this.jump.hidden = true;
  }

  clear() {
    this.items.replaceChildren();
  }

  /**
   * add draws events (oldest first) at their places by id. An event with `replaces` takes the
   * place of the stand-in with its id. Keeps the view where the reader is: at the end if they
   * were at the end, on the same lines if older events came in above.
   */
  add(events, { own = false } = {}) {
    if (!events.length) return;
    const wasAtEnd = this.atEnd();
    const oldHeight = this.log.scrollHeight;
    const oldTop = this.log.scrollTop;
    const firstKey = this.items.firstElementChild ? Number(this.items.firstElementChild.dataset.key) : Infinity;
    let above = false;
    for (const ev of events) {
      const node = this.render(ev);
      if (!node) continue;
      const old = this.items.querySelector(`:scope > [data-key="${ev.id}"]`);
      if (old) old.replaceWith(node);
      else this.insert(node);
      if (ev.id < firstKey) above = true;
      this.regroup(node);
      if (node.nextElementSibling) this.regroup(node.nextElementSibling);
    }
    if (wasAtEnd || own) this.scrollToEnd();
    else if (above) this.log.scrollTop = oldTop + (this.log.scrollHeight - oldHeight);
    else if (!this.root.hidden) this.jump.hidden = false;
  }

  /** notice draws a quiet line (not an event) at key, see noticeKey. */
  notice(text, key, kind = 'notice') {
    const wasAtEnd = this.atEnd();
    this.insert(el('li', { class: `line ${kind}`, dataset: { key: String(key) } }, el('span', { text })));
    if (wasAtEnd) this.scrollToEnd();
  }

  /** insert puts node among the items by its numeric data-key; most land at the end. */
  insert(node) {
    const key = Number(node.dataset.key);
    const kids = this.items.children;
    if (!kids.length || Number(kids[kids.length - 1].dataset.key) <= key) {
      this.items.append(node);
      return;
    }
    let lo = 0;
    let hi = kids.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Number(kids[mid].dataset.key) > key) hi = mid;
      else lo = mid + 1;
    }
    this.items.insertBefore(node, kids[lo]);
  }

  render(ev) {
    const key = String(ev.id);
    if (ev.type === 'message') return this.messageEl(ev, key);
    if (ev.type === 'join' || ev.type === 'leave') {
      const who = ev.userId === this.me ? 'You' : ev.userId;
      const verb = ev.type === 'join' ? 'joined' : 'left';
      return el(
        'li',
        { class: `line presence ${ev.type}`, dataset: { key, id: key, user: ev.userId } },
        el('span', { text: `${who} ${verb}` }),
        ' ',
        timeEl(ev.unixTime),
      );
    }
    return null; // add/remove change no one's presence in the room: not drawn
  }

  messageEl(ev, key) {
    const own = ev.userId === this.me;
    const st = this.shown(ev);
    const meta = el('div', { class: 'meta' }, el('span', { class: 'sender', text: own ? 'You' : ev.userId }), ' ', timeEl(ev.unixTime));
    const dataset = { key, id: key, user: ev.userId, time: String(ev.unixTime || 0) };
    if (st.deleted) {
      return el('li', { class: `msg ${own ? 'own' : 'other'} deleted`, dataset }, meta,
        el('div', { class: 'bubble tombstone' }, el('p', { class: 'text', text: 'This message was deleted.' })));
    }
    const text = st.text;
    const body = el('p', { class: 'text', dir: 'auto', text });
    const bubble = el('div', { class: 'bubble' }, this.quote(ev), body);
    if (st.edited) bubble.append(el('span', { class: 'edited', text: '(edited)' }));
    if (text.length > LONG_CHARS || text.split('\n').length > LONG_LINES) {
      bubble.classList.add('clamped');
      const more = el('button', { type: 'button', class: 'link-btn more', text: 'Show more', 'aria-expanded': 'false' });
      more.addEventListener('click', () => {
        const open = bubble.classList.toggle('clamped');
        more.textContent = open ? 'Show more' : 'Show less';
        more.setAttribute('aria-expanded', String(!open));
      });
      bubble.append(more);
    }
    return el(
      'li',
      { class: `msg ${own ? 'own' : 'other'}${ev.standIn ? ' stand-in' : ''}`, dataset },
      meta,
      bubble,
      this.reactionBar(ev, st.reactions),
      ev.standIn ? null : this.actions(ev, own),
    );
  }

  /** quote is the preview of the message ev replies to; it scrolls to the original. */
  quote(ev) {
    if (!ev.replyTo) return null;
    const orig = this.lookup(ev.replyTo);
    let text = 'an earlier message';
    if (orig) {
      const st = this.shown(orig);
      text = st.deleted ? 'a deleted message' : `${orig.userId}: ${st.text.length > QUOTE_CHARS ? st.text.slice(0, QUOTE_CHARS) + '…' : st.text}`;
    }
    return el('button', {
      type: 'button',
      class: 'quote',
      dir: 'auto',
      text,
      'aria-label': `In reply to ${text}. Show it`,
      onclick: () => this.highlight(ev.replyTo),
    });
  }

  /** reactionBar shows each emoji with its count; pressing one adds or takes back yours. */
  reactionBar(ev, reactions) {
    if (!reactions.length) return null;
    return el(
      'div',
      { class: 'reactions' },
      ...reactions.map((r) => {
        const mine = r.users.includes(this.me);
        return el('button', {
          type: 'button',
          class: `reaction${mine ? ' mine' : ''}`,
          'aria-pressed': String(mine),
          title: r.users.join(', '),
          'aria-label': `${r.emoji} ${r.users.length}: ${r.users.join(', ')}`,
          text: `${r.emoji} ${r.users.length}`,
          onclick: () => this.onAction('react', ev, r.emoji),
        });
      }),
    );
  }

  /** actions are the message's buttons: reply, quick reactions, and edit/delete for your own. */
  actions(ev, own) {
    const btn = (text, label, fn) => el('button', { type: 'button', class: 'link-btn act', text, 'aria-label': label, onclick: fn });
    const who = own ? 'your message' : `${ev.userId}'s message`;
    return el(
      'div',
      { class: 'actions' },
      btn('Reply', `Reply to ${who}`, () => this.onAction('reply', ev)),
      ...QUICK_EMOJI.map((e) => btn(e, `React with ${e} to ${who}`, () => this.onAction('react', ev, e))),
      own ? btn('Edit', 'Edit your message', () => this.onAction('edit', ev)) : null,
      own ? this.deleteBtn(ev) : null,
    );
  }

  /** deleteBtn asks twice: the first press arms it for a few seconds, the second deletes. */
  deleteBtn(ev) {
    const b = el('button', { type: 'button', class: 'link-btn act danger', text: 'Delete', 'aria-label': 'Delete your message' });
    let armed = 0;
    b.addEventListener('click', () => {
      if (armed) {
        clearTimeout(armed);
        this.onAction('delete', ev);
        return;
      }
      b.textContent = 'Delete for everyone?';
      b.setAttribute('aria-label', 'Press again to delete your message for everyone');
      armed = setTimeout(() => {
        armed = 0;
        b.textContent = 'Delete';
        b.setAttribute('aria-label', 'Delete your message');
      }, 4000);
    });
    return b;
  }

  /** refresh draws message id again (an edit, delete or reaction changed it), and replies quoting it. */
  refresh(id) {
    const ev = this.lookup(id);
    const old = this.items.querySelector(`:scope > [data-key="${id}"]`);
    if (ev && old) {
      const node = this.render(ev);
      old.replaceWith(node);
      this.regroup(node);
    }
    for (const q of this.items.querySelectorAll(':scope > .msg')) {
      const r = this.lookup(Number(q.dataset.id));
      if (r && r.replyTo === id) {
        const node = this.render(r);
        q.replaceWith(node);
        this.regroup(node);
      }
    }
  }

  /** highlight scrolls to message id and marks it for a moment. */
  highlight(id) {
    const node = this.items.querySelector(`:scope > [data-key="${id}"]`);
    if (!node) return;
    node.scrollIntoView({ block: 'center' });
    node.classList.add('flash');
    setTimeout(() => node.classList.remove('flash'), 1600);
    node.querySelector('button')?.focus({ preventScroll: true });
  }

  /** typing shows that user is typing, for a few seconds unless told again. */
  typing(user) {
    clearTimeout(this.typers.get(user));
    this.typers.set(user, setTimeout(() => {
      this.typers.delete(user);
      this.drawTyping();
    }, 3500));
    this.drawTyping();
  }

  /** stopTyping: user's message came, so they are done typing it. */
  stopTyping(user) {
    if (!this.typers.has(user)) return;
    clearTimeout(this.typers.get(user));
    this.typers.delete(user);
    this.drawTyping();
  }

  drawTyping() {
    const who = [...this.typers.keys()].sort();
    this.typingLine.textContent =
      who.length === 0 ? '' : who.length === 1 ? `${who[0]} is typing…` : who.length === 2 ? `${who[0]} and ${who[1]} are typing…` : 'Several people are typing…';
  }

  /** regroup hides the sender line of a message that follows one of the same sender. */
  regroup(node) {
    if (!node.classList.contains('msg')) return;
    const prev = node.previousElementSibling;
    const cont =
      prev &&
      prev.classList.contains('msg') &&
      prev.dataset.user === node.dataset.user &&
      Number(node.dataset.time) - Number(prev.dataset.time) < GROUP_SECONDS;
    node.classList.toggle('cont', Boolean(cont));
  }

  /** drawOutbox redraws the messages typed here and not yet acked. */
  drawOutbox(entries, online) {
    const wasAtEnd = this.atEnd();
    this.outbox.replaceChildren(
      ...entries.map((e) => {
        const status =
          e.state === 'failed' ? `Not sent: ${e.error}` : online && e.state === 'sent' ? 'Sending…' : 'Waiting for the connection…';
        const actions =
          e.state === 'failed'
            ? [
                el('button', { type: 'button', class: 'link-btn', text: 'Retry', onclick: () => this.onRetry(e.ref) }),
                el('button', { type: 'button', class: 'link-btn', text: 'Discard', onclick: () => this.onDiscard(e.ref) }),
              ]
            : [];
        return el(
          'li',
          { class: `msg own pending ${e.state}`, dataset: { ref: e.ref } },
          el('div', { class: 'bubble' }, el('p', { class: 'text', dir: 'auto', text: e.text })),
          el('div', { class: 'status' }, el('span', { text: status }), ...actions),
        );
      }),
    );
    if (wasAtEnd) this.scrollToEnd();
  }
}
