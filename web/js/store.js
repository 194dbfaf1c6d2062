// Room state, kept apart from the DOM so node tests can drive it: the events seen (deduped by
// id), the outbox of messages not yet acked, and what to ask for on the next (re)join.

import { HISTORY_PAGE, randomId } from './protocol.js';

/** Events that are drawn in a room's log; add/remove only change who is counted. */
export const shownTypes = new Set(['message', 'join', 'leave']);

/** Events that change a message drawn elsewhere (its `target`) instead of being drawn. */
export const refTypes = new Set(['edit', 'delete', 'reaction']);

export class Room {
  constructor(id, { isPrivate = false, peer = '' } = {}) {
    this.id = id;
    this.isPrivate = isPrivate || id.startsWith('dm-');
    this.peer = peer;
    this.events = new Map(); // id -> event
    this.lastId = 0; // highest id received from the gateway (not from an ack)
    this.oldestId = 0; // lowest id held, for `history` with `before`
    this.loaded = false; // true once a `joined` arrived on some connection
    this.joined = false; // member on the current connection
    this.atStart = false; // no older events exist
    this.loadingOlder = false;
    this.joinTries = 0; // joins answered `unavailable` in a row
    this.unread = 0;
    this.outbox = []; // {ref, text, state: 'queued'|'sent'|'failed', error, tries}
    this.draft = '';
    this.edits = new Map(); // message id -> its latest edit event
    this.deleted = new Set(); // ids of deleted messages
    this.reactions = new Map(); // message id -> Map("user\0emoji" -> {id, on})
    this.readUpTo = 0; // the user's read marker, from the gateway
    this.readSent = 0; // the highest marker this tab asked for
  }

  /**
   * applyRef applies an edit, delete or reaction to the state of its target and returns the
   * target's id (0 for other events). The log's rules: the latest edit wins, and for
   * reactions the latest of each user and emoji.
   */
  applyRef(ev) {
    const t = ev.target;
    if (!refTypes.has(ev.type) || typeof t !== 'number') return 0;
    if (ev.type === 'edit') {
      const held = this.edits.get(t);
      if (!held || held.id < ev.id) this.edits.set(t, ev);
    } else if (ev.type === 'delete') {
      this.deleted.add(t);
    } else {
      let m = this.reactions.get(t);
      if (!m) this.reactions.set(t, (m = new Map()));
      const key = `${ev.userId}\u0000${ev.emoji}`;
      const held = m.get(key);
      if (!held || held.id < ev.id) m.set(key, { id: ev.id, on: ev.on === true });
    }
    return t;
  }

  /**
   * shown returns what to draw of message ev: its latest text, whether it was edited or
   * deleted, and its reactions as [{emoji, users}] (users who have it on).
   */
  shown(ev) {
    const edit = this.edits.get(ev.id);
    const byEmoji = new Map();
    for (const [key, r] of this.reactions.get(ev.id) || []) {
      if (!r.on) continue;
      const [user, emoji] = key.split('\u0000');
      if (!byEmoji.has(emoji)) byEmoji.set(emoji, []);
      byEmoji.get(emoji).push(user);
    }
    const reactions = [...byEmoji].map(([emoji, users]) => ({ emoji, users: users.sort() }));
    return { text: String(edit ? edit.message : ev.message ?? ''), edited: Boolean(edit), deleted: this.deleted.has(ev.id), reactions };
  }

  /** unreadFor counts the held messages of others above the read marker, not deleted. */
  unreadFor(me) {
    let n = 0;
    for (const ev of this.events.values()) {
      if (ev.type === 'message' && ev.id > this.readUpTo && ev.userId !== me && !this.deleted.has(ev.id)) n++;
    }
    return n;
  }

  /** newestMessage is the id of the newest message held (0 if none), for the read marker. */
  newestMessage() {
    let id = 0;
    for (const ev of this.events.values()) if (ev.type === 'message' && !ev.standIn && ev.id > id) id = ev.id;
    return id;
  }

  /** title is what a person calls the room: the peer's name for a private room. */
  get title() {
    return this.isPrivate && this.peer ? this.peer : this.id;
  }

  /** joinCommand is the `join` to send on (re)connect: with `since` once events are held. */
  joinCommand(ref) {
    const cmd = { type: 'join', chatroomId: this.id, ref };
    if (this.loaded && this.lastId > 0) cmd.since = this.lastId;
    else cmd.limit = HISTORY_PAGE;
    return cmd;
  }

  /**
   * merge adds events not held yet and returns them, oldest first. An event that replaces a
   * stand-in made from an ack is returned too, with `replaces: true`.
   */
  merge(events, { fromGateway = true } = {}) {
    const added = [];
    for (const ev of events || []) {
      if (!ev || typeof ev.id !== 'number') continue;
      const held = this.events.get(ev.id);
      if (held && !held.standIn) continue;
      this.events.set(ev.id, ev);
      if (fromGateway && ev.id > this.lastId) this.lastId = ev.id;
      if (!this.oldestId || ev.id < this.oldestId) this.oldestId = ev.id;
      added.push(held ? { ...ev, replaces: true } : ev);
    }
    added.sort((a, b) => a.id - b.id);
    return added;
  }

  /** reset forgets every event held, for a `joined` that says `recovered: false`. */
  reset() {
    this.events.clear();
    this.edits.clear();
    this.deleted.clear();
    this.reactions.clear();
    this.lastId = 0;
    this.oldestId = 0;
    this.atStart = false;
  }

  /** queue puts a new message in the outbox and returns its entry. */
  queue(text) {
    const entry = { ref: 'm-' + randomId(20), text, state: 'queued', error: '', tries: 0 };
    this.outbox.push(entry);
    return entry;
  }

  /** pending returns the outbox entry of ref, if any. */
  pending(ref) {
    return this.outbox.find((e) => e.ref === ref);
  }

  /**
   * ack takes the entry of ref out of the outbox. If the message's own event has not arrived
   * yet, a stand-in event is held under the acked id (the real one replaces it, never adds).
   * Returns {entry, standIn}; both may be null.
   */
  ack(ref, id, me, now = Date.now()) {
    const i = this.outbox.findIndex((e) => e.ref === ref);
    if (i < 0) return { entry: null, standIn: null };
    const [entry] = this.outbox.splice(i, 1);
    if (typeof id !== 'number' || this.events.has(id)) return { entry, standIn: null };
    const standIn = {
      id,
      chatroomId: this.id,
      type: 'message',
      userId: me,
      message: entry.text,
      unixTime: Math.floor(now / 1000),
      standIn: true,
    };
    this.events.set(id, standIn);
    if (!this.oldestId || id < this.oldestId) this.oldestId = id;
    return { entry, standIn };
  }

  /** resendable lists the outbox entries to send (again) after a join, oldest first. */
  resendable() {
    return this.outbox.filter((e) => e.state !== 'failed');
  }

  /** sortedEvents returns the held events, oldest first. */
  sortedEvents() {
    return [...this.events.values()].sort((a, b) => a.id - b.id);
  }
}

/**
 * eventKey orders the items of a log: events by id; a notice that belongs just before event id
 * N gets N - 0.5; an item with no position sorts last.
 */
export function noticeKey(beforeId) {
  return beforeId ? beforeId - 0.5 : Number.MAX_SAFE_INTEGER;
}
