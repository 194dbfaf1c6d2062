// Room state, kept apart from the DOM so node tests can drive it: the events seen (deduped by
// id), the outbox of messages not yet acked, and what to ask for on the next (re)join.

import { HISTORY_PAGE, randomId } from './protocol.js';

/** Events that are drawn in a room's log; add/remove only change who is counted. */
export const shownTypes = new Set(['message', 'join', 'leave']);

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
