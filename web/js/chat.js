// The chat itself: open rooms and their logs, people, and every object from the gateway.
// Network and storage come in through Connection and identity; drawing goes to the views.

import { $ } from './dom.js';
import { drawerOpen, setDrawer } from './drawer.js';
import { HISTORY_PAGE, backoffDelay, retryableErrors, roomNameProblem } from './protocol.js';
import { Room, noticeKey, refTypes } from './store.js';
import { RoomView } from './roomview.js';

const errorText = {
  invalid_room: 'that is not a valid room name',
  invalid_user: 'that is not a valid user name',
  too_large: 'the message is over 4,000 bytes',
  not_member: 'you are not in this room',
  forbidden: 'you may not do that here',
  not_found: 'that message is gone',
  rate_limited: 'you are sending too fast',
  unavailable: 'the chat server cannot store messages right now',
  bad_request: 'the server did not understand the request',
  internal: 'the server had a problem',
};

/** describe turns an `error` object into a short sentence for people. */
export function describe(err) {
  return errorText[err?.code] || err?.message || 'something went wrong';
}

export class Chat {
  /**
   * @param {object} o
   * @param {import('./connection.js').Connection} o.conn  set later with use(conn)
   * @param {import('./sidebar.js').Sidebar} o.sidebar
   * @param {import('./composer.js').Composer} o.composer
   * @param {import('./status.js').Status} o.status
   * @param {object} o.identity
   */
  constructor({ sidebar, composer, status, identity }) {
    this.sidebar = sidebar;
    this.composer = composer;
    this.status = status;
    this.identity = identity;
    this.conn = null;
    this.me = '';
    this.rooms = new Map(); // id -> Room, in the order they were opened
    this.views = new Map(); // id -> RoomView
    this.active = '';
    this.users = new Map(); // userId -> {userId, sessions}
    this.directory = [];
    this.refs = new Map(); // ref -> {kind, room}
    this.refN = 0;
    this.restored = false;
    this.online = false;
    this.retryTimers = new Set();
    this.roomsView = $('rooms-view');
    this.empty = $('empty-state');
    this.directoryTimer = 0;
    this.typingSent = 0; // when this tab last told the active room that you type
  }

  use(conn) {
    this.conn = conn;
  }

  ref(kind, room) {
    const ref = `${kind}-${++this.refN}`;
    this.refs.set(ref, { kind, room });
    return ref;
  }

  take(ref) {
    if (!ref) return null;
    const ctx = this.refs.get(ref);
    this.refs.delete(ref);
    return ctx || null;
  }

  send(cmd) {
    return this.conn ? this.conn.send(cmd) : false;
  }

  // ---- connection life ----

  connected(welcome) {
    this.me = welcome.userId;
    this.online = true;
    $('me-name').textContent = this.me;
    $('sign-out').hidden = false;
    if (!this.restored) this.restore();
    this.refs.clear();
    for (const view of this.views.values()) view.me = this.me;
    for (const room of this.rooms.values()) this.sendJoin(room);
    this.send({ type: 'users', ref: this.ref('users') });
    this.refreshDirectory();
    this.drawAllOutboxes();
  }

  disconnected() {
    this.online = false;
    for (const room of this.rooms.values()) {
      room.joined = false;
      room.loadingOlder = false;
      for (const e of room.outbox) if (e.state === 'sent') e.state = 'queued';
    }
    this.drawAllOutboxes();
  }

  /** restore reopens the rooms this tab (or the last tab) had open, and their unsent messages. */
  restore() {
    this.restored = true;
    const saved = this.identity.loadRooms(this.me);
    const list = saved ? saved.rooms : [{ id: 'lobby' }];
    for (const r of list) if (r && typeof r.id === 'string') this.open(r.id, { peer: r.peer || '', join: false });
    const outbox = this.identity.loadOutbox(this.me);
    for (const [id, entries] of Object.entries(outbox)) {
      const room = this.rooms.get(id);
      if (!room || !Array.isArray(entries)) continue;
      for (const e of entries) if (e && e.ref && e.text) room.outbox.push({ ref: e.ref, text: e.text, state: 'queued', error: '', tries: 0 });
    }
    const first = saved?.active && this.rooms.has(saved.active) ? saved.active : this.rooms.keys().next().value;
    if (first) this.select(first);
  }

  // ---- rooms ----

  /** open adds a room (and its view) if it is not open yet; join sends the join now. */
  open(id, { peer = '', join = true } = {}) {
    let room = this.rooms.get(id);
    if (room) {
      if (peer && !room.peer) {
        room.peer = peer;
        this.retitle(room);
      }
      return room;
    }
    room = new Room(id, { peer });
    this.rooms.set(id, room);
    const view = new RoomView({
      roomId: id,
      onNeedOlder: () => this.older(room),
      onRetry: (ref) => this.retry(room, ref),
      onDiscard: (ref) => this.discard(room, ref),
      shown: (ev) => room.shown(ev),
      lookup: (id) => room.events.get(id),
      onAction: (kind, ev, emoji) => this.act(room, kind, ev, emoji),
    });
    view.log.addEventListener('scroll', () => this.markRead(room));
    view.me = this.me;
    view.leaveBtn.addEventListener('click', () => this.leave(id));
    this.views.set(id, view);
    this.retitle(room);
    this.roomsView.append(view.root);
    if (join && this.online) this.sendJoin(room);
    this.changed();
    return room;
  }

  sendJoin(room) {
    room.joined = false;
    this.send(room.joinCommand(this.ref('join', room.id)));
  }

  /** joinByName is the join form and the public room list: checked before anything is sent. */
  joinByName(name, peer = '') {
    const id = name.trim();
    const problem = peer ? '' : roomNameProblem(id);
    if (problem) return problem;
    this.open(id, { peer });
    this.select(id);
    return '';
  }

  openPrivate(userId) {
    if (userId === this.me) return;
    for (const r of this.rooms.values()) {
      if (r.isPrivate && r.peer === userId) return this.select(r.id);
    }
    if (!this.send({ type: 'private', userId, ref: this.ref('private', userId) })) {
      this.status.toast(`Not connected: the private chat with ${userId} opens once the connection is back.`, { kind: 'warn' });
    }
  }

  leave(id) {
    const room = this.rooms.get(id);
    if (!room) return;
    if (room.outbox.length && !confirm(`Leave ${room.title}? ${room.outbox.length} unsent message(s) will be dropped.`)) return;
    this.send({ type: 'leave', chatroomId: id, ref: this.ref('leave', id) });
    this.views.get(id).root.remove();
    this.views.delete(id);
    this.rooms.delete(id);
    if (this.active === id) {
      this.active = '';
      const next = [...this.rooms.keys()].pop();
      if (next) this.select(next);
      else this.showEmpty();
    }
    this.changed();
    this.refreshDirectory(500);
  }

  select(id) {
    const room = this.rooms.get(id);
    if (!room) return;
    const prev = this.rooms.get(this.active);
    if (prev && prev !== room) prev.draft = this.composer.value;
    this.active = id;
    for (const [rid, view] of this.views) view.show(rid === id);
    this.empty.hidden = true;
    this.composer.attach(room.title, room.isPrivate, room.draft);
    this.markRead(room);
    this.changed();
    if (drawerOpen()) setDrawer(false);
  }

  showEmpty() {
    this.empty.hidden = false;
    this.composer.detach();
  }

  retitle(room) {
    const view = this.views.get(room.id);
    if (view) view.setTitle(room.title, room.isPrivate, room.isPrivate ? 'Private: only the two of you can read it' : '');
    if (room.id === this.active) this.composer.attach(room.title, room.isPrivate, this.composer.value);
  }

  older(room) {
    if (!room.loaded || room.atStart || room.loadingOlder || !room.joined || !room.oldestId) return;
    room.loadingOlder = true;
    this.views.get(room.id).setTop('loading');
    const ok = this.send({ type: 'history', chatroomId: room.id, before: room.oldestId, limit: HISTORY_PAGE, ref: this.ref('history', room.id) });
    if (!ok) room.loadingOlder = false;
  }

  // ---- messages out ----

  /** post puts text in the active room's outbox and sends it if it can; true if taken. An
   * edit under way is sent as an edit of its message instead. */
  post(text, context = null) {
    const room = this.rooms.get(this.active);
    if (!room) return false;
    if (context?.kind === 'edit') {
      if (!this.send({ type: 'edit', chatroomId: room.id, id: context.ev.id, message: text, ref: this.ref('edit', room.id) })) {
        this.status.toast('Not connected: the edit was not sent.', { kind: 'warn' });
        return false;
      }
      return true;
    }
    const entry = room.queue(text);
    if (context?.kind === 'reply') entry.replyTo = context.ev.id;
    if (room.joined && this.online) this.transmit(room, entry);
    this.saveOutbox();
    this.views.get(room.id).drawOutbox(room.outbox, this.online);
    this.views.get(room.id).scrollToEnd();
    return true;
  }

  transmit(room, entry) {
    entry.state = 'sent';
    entry.tries++;
    this.refs.set(entry.ref, { kind: 'message', room: room.id });
    const cmd = { type: 'message', chatroomId: room.id, message: entry.text, ref: entry.ref };
    if (entry.replyTo) cmd.replyTo = entry.replyTo;
    if (!this.send(cmd)) entry.state = 'queued';
  }

  retry(room, ref) {
    const e = room.pending(ref);
    if (!e) return;
    e.state = 'queued';
    e.error = '';
    if (room.joined && this.online) this.transmit(room, e);
    this.views.get(room.id)?.drawOutbox(room.outbox, this.online);
  }

  discard(room, ref) {
    room.outbox = room.outbox.filter((e) => e.ref !== ref);
    this.saveOutbox();
    this.views.get(room.id)?.drawOutbox(room.outbox, this.online);
  }

  /** act runs a message's button: reply, edit, delete, or a reaction (toggled). */
  act(room, kind, ev, emoji) {
    if (room.id !== this.active) this.select(room.id);
    if (kind === 'reply' || kind === 'edit') return this.composer.setContext(kind, ev, room.shown(ev).text);
    if (kind === 'delete') {
      this.send({ type: 'delete', chatroomId: room.id, id: ev.id, ref: this.ref('delete', room.id) });
      return;
    }
    const mine = room.shown(ev).reactions.find((r) => r.emoji === emoji)?.users.includes(this.me);
    this.send({ type: 'react', chatroomId: room.id, id: ev.id, emoji, on: !mine, ref: this.ref('react', room.id) });
  }

  /** typing tells the active room that you type, at most every 2 s. */
  typing() {
    const room = this.rooms.get(this.active);
    const now = Date.now();
    if (!room || !room.joined || now - this.typingSent < 2000) return;
    this.typingSent = now;
    this.send({ type: 'typing', chatroomId: room.id });
  }

  /** markRead moves your read marker to the newest message of the room you are looking at. */
  markRead(room) {
    const view = this.views.get(room.id);
    if (room.id !== this.active || document.visibilityState !== 'visible' || !room.joined || !view?.atEnd()) return;
    const id = room.newestMessage();
    if (id <= room.readUpTo || id <= room.readSent) return;
    room.readSent = id;
    this.send({ type: 'read', chatroomId: room.id, id, ref: this.ref('read', room.id) });
  }

  onRead(obj) {
    this.take(obj.ref);
    const room = this.rooms.get(obj.chatroomId);
    if (room && obj.id > room.readUpTo) {
      room.readUpTo = obj.id;
      room.unread = room.unreadFor(this.me);
      this.changed();
    }
    const d = this.directory.find((r) => r.chatroomId === obj.chatroomId);
    if (d && !room) this.refreshDirectory(300);
  }

  /** applyRefs applies the edits, deletes and reactions among added and redraws their targets. */
  applyRefs(room, added) {
    const view = this.views.get(room.id);
    for (const ev of added) {
      const target = room.applyRef(ev);
      if (target) view.refresh(target);
    }
  }

  // ---- objects in ----

  handle(obj) {
    switch (obj.type) {
      case 'joined':
        return this.onJoined(obj);
      case 'left':
        return this.take(obj.ref);
      case 'ack':
        return this.onAck(obj);
      case 'history':
        return this.onHistory(obj);
      case 'users':
        this.take(obj.ref);
        this.users = new Map((obj.users || []).map((u) => [u.userId, u]));
        return this.sidebar.drawPeople(this.users, this.me);
      case 'rooms':
        this.take(obj.ref);
        return this.onRooms(obj.rooms || []);
      case 'error':
        return this.onError(obj);
      case 'online':
        if (!this.users.has(obj.userId)) this.users.set(obj.userId, { userId: obj.userId, sessions: 1 });
        return this.sidebar.drawPeople(this.users, this.me);
      case 'offline':
        this.users.delete(obj.userId);
        return this.sidebar.drawPeople(this.users, this.me);
      case 'close':
        return this.status.show('reconnecting', 'The server is restarting: moving you over…');
      case 'read':
        return this.onRead(obj);
      case 'typing':
        if (obj.userId !== this.me) this.views.get(obj.chatroomId)?.typing(obj.userId);
        return;
      default:
        if (obj.chatroomId && typeof obj.id === 'number') return this.onEvent(obj);
    }
  }

  onJoined(obj) {
    const ctx = this.take(obj.ref);
    const id = obj.chatroomId;
    let room = this.rooms.get(id);
    if (!room) {
      // A room we have not opened: one we asked for with `private`, or one the peer opened.
      if (!(ctx && ctx.kind === 'private') && !obj.private) return;
      room = this.open(id, { peer: obj.peer || '', join: false });
      if (!ctx) this.status.toast(`${obj.peer || 'Someone'} started a private chat with you.`, {
        action: 'Open',
        onAction: () => this.select(id),
      });
    } else if (obj.peer && !room.peer) {
      room.peer = obj.peer;
      this.retitle(room);
    }
    const view = this.views.get(id);
    const events = obj.events || [];
    if (typeof obj.readUpTo === 'number' && obj.readUpTo > room.readUpTo) room.readUpTo = obj.readUpTo;
    if (obj.recovered === false && room.loaded) {
      room.reset();
      view.clear();
      const added = room.merge(events);
      for (const ev of added) room.applyRef(ev);
      view.add(added);
      view.notice('You were away too long to get every message back: older ones are above, this gap may miss some.', noticeKey(added[0]?.id));
    } else {
      const added = room.merge(events);
      for (const ev of added) room.applyRef(ev);
      view.add(added);
      this.applyRefs(room, added);
    }
    room.unread = room.unreadFor(this.me);
    if (!room.loaded) room.atStart = events.length < HISTORY_PAGE;
    room.loaded = true;
    room.joined = true;
    room.joinTries = 0;
    view.setTop(room.atStart ? 'start' : 'more');
    for (const e of room.resendable()) this.transmit(room, e);
    view.drawOutbox(room.outbox, this.online);
    if (ctx && ctx.kind === 'private') this.select(id);
    else if (!this.active) this.select(id);
    this.markRead(room);
    this.changed();
  }

  onEvent(ev) {
    const room = this.rooms.get(ev.chatroomId);
    if (!room || !room.loaded) return; // not ours, or its `joined` is still to come with it
    const added = room.merge([ev]);
    if (!added.length) return;
    const view = this.views.get(room.id);
    if (refTypes.has(ev.type)) {
      this.applyRefs(room, added);
    } else {
      view.add(added, { own: ev.type === 'message' && ev.userId === this.me });
      if (ev.type === 'message') view.stopTyping(ev.userId);
    }
    this.countUnread(room);
    this.markRead(room);
    if (ev.type === 'join' || ev.type === 'leave') this.refreshDirectory(1000);
  }

  onAck(obj) {
    this.take(obj.ref);
    const room = this.rooms.get(obj.chatroomId);
    if (!room) return;
    const { entry, standIn } = room.ack(obj.ref, obj.id, this.me);
    if (!entry) return;
    const view = this.views.get(room.id);
    if (standIn) view.add([standIn], { own: true });
    view.drawOutbox(room.outbox, this.online);
    this.saveOutbox();
  }

  onHistory(obj) {
    const ctx = this.take(obj.ref);
    const room = this.rooms.get(obj.chatroomId || ctx?.room);
    if (!room) return;
    room.loadingOlder = false;
    const events = obj.events || [];
    const view = this.views.get(room.id);
    room.atStart = events.length < HISTORY_PAGE;
    const added = room.merge(events, { fromGateway: false });
    for (const ev of added) room.applyRef(ev);
    view.add(added);
    this.applyRefs(room, added);
    view.setTop(room.atStart ? 'start' : 'more');
    if (!room.atStart && room.id === this.active && view.log.scrollTop < 80) this.older(room);
  }

  onRooms(list) {
    this.directory = list;
    for (const r of list) {
      const room = this.rooms.get(r.chatroomId);
      if (room && r.peer && !room.peer) {
        room.peer = r.peer;
        this.retitle(room);
        this.changed();
      }
    }
    this.sidebar.drawDirectory(list, new Set(this.rooms.keys()));
  }

  onError(err) {
    const ctx = this.take(err.ref);
    if (!ctx) {
      if (err.code !== 'unauthorized' && err.code !== 'invalid_user') this.status.toast(`Server: ${describe(err)}`, { kind: 'warn' });
      return;
    }
    const room = this.rooms.get(ctx.room);
    if (ctx.kind === 'message' && room) return this.messageFailed(room, err);
    if (['edit', 'delete', 'react', 'read'].includes(ctx.kind)) {
      if (ctx.kind === 'read' && room) room.readSent = room.readUpTo;
      if (ctx.kind !== 'read') this.status.toast(`Could not ${ctx.kind} that message: ${describe(err)}.`, { kind: 'warn' });
      return;
    }
    if (ctx.kind === 'join' && room) return this.joinFailed(room, err);
    if (ctx.kind === 'history' && room) {
      room.loadingOlder = false;
      return this.views.get(room.id).setTop('more');
    }
    if (ctx.kind === 'private') return this.status.toast(`Could not start a private chat with ${ctx.room}: ${describe(err)}.`, { kind: 'error' });
    if (ctx.kind !== 'users' && ctx.kind !== 'rooms') this.status.toast(`Server: ${describe(err)}`, { kind: 'warn' });
  }

  /** joinFailed retries a join the gateway could not serve now; a refused one closes the room. */
  joinFailed(room, err) {
    if (retryableErrors.has(err.code) || err.code === 'rate_limited') {
      const delay = backoffDelay(room.joinTries++);
      this.views.get(room.id).setTop('error', `Could not load this room: ${describe(err)}. Trying again…`);
      setTimeout(() => {
        if (this.rooms.get(room.id) === room && this.online && !room.joined) this.sendJoin(room);
      }, delay);
      return;
    }
    this.status.toast(`Could not open ${room.title}: ${describe(err)}.`, { kind: 'error' });
    room.outbox = [];
    this.leaveLocally(room.id);
  }

  leaveLocally(id) {
    this.views.get(id)?.root.remove();
    this.views.delete(id);
    this.rooms.delete(id);
    if (this.active === id) {
      this.active = '';
      const next = [...this.rooms.keys()].pop();
      if (next) this.select(next);
      else this.showEmpty();
    }
    this.changed();
  }

  /** messageFailed keeps a refused message in the outbox: retried by itself when worth it. */
  messageFailed(room, err) {
    const e = room.pending(err.ref);
    if (!e) return;
    if (err.code === 'not_member') {
      e.state = 'queued';
      if (e.tries < 5) this.sendJoin(room); // its `joined` sends the outbox again
    } else if (retryableErrors.has(err.code) && e.tries < 8) {
      e.state = 'queued';
      const t = setTimeout(() => {
        this.retryTimers.delete(t);
        if (room.pending(e.ref) && e.state === 'queued' && room.joined && this.online) this.transmit(room, e);
      }, Math.min(8000, 700 * 2 ** e.tries));
      this.retryTimers.add(t);
    } else {
      e.state = 'failed';
      e.error = describe(err);
    }
    this.views.get(room.id)?.drawOutbox(room.outbox, this.online);
  }

  // ---- bookkeeping ----

  /** countUnread recounts a room's unread messages: those of others above your read marker,
   * which every tab and device of yours shares. */
  countUnread(room) {
    const n = room.unreadFor(this.me);
    if (n === room.unread) return;
    room.unread = n;
    this.changed();
  }

  /** visible is called when the tab comes back into view. */
  visible() {
    const room = this.rooms.get(this.active);
    if (room) this.markRead(room);
  }

  refreshDirectory(delay = 0) {
    clearTimeout(this.directoryTimer);
    this.directoryTimer = setTimeout(() => {
      if (this.online) this.send({ type: 'rooms', ref: this.ref('rooms') });
    }, delay);
  }

  /** changed redraws what depends on the set of rooms and saves it. */
  changed() {
    const rooms = [...this.rooms.values()];
    this.sidebar.drawOpen(rooms, this.active);
    this.sidebar.drawDirectory(this.directory, new Set(this.rooms.keys()));
    const unread = rooms.reduce((n, r) => n + r.unread, 0);
    document.title = unread ? `(${unread}) chathub` : 'chathub';
    const badge = $('menu-badge');
    badge.hidden = unread === 0;
    badge.textContent = String(unread);
    if (this.me) {
      this.identity.saveRooms(this.me, rooms.map((r) => ({ id: r.id, peer: r.peer })), this.active);
      this.saveOutbox();
    }
  }

  saveOutbox() {
    if (!this.me) return;
    const out = {};
    for (const r of this.rooms.values()) if (r.outbox.length) out[r.id] = r.outbox.map((e) => ({ ref: e.ref, text: e.text }));
    this.identity.saveOutbox(this.me, out);
  }

  drawAllOutboxes() {
    for (const room of this.rooms.values()) this.views.get(room.id)?.drawOutbox(room.outbox, this.online);
  }

  /** reset forgets everything, for signing out or signing in as someone else. */
  reset() {
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const v of this.views.values()) v.root.remove();
    this.rooms.clear();
    this.views.clear();
    this.users.clear();
    this.directory = [];
    this.active = '';
    this.me = '';
    this.restored = false;
    this.online = false;
    $('me-name').textContent = '';
    $('sign-out').hidden = true;
    this.sidebar.drawPeople(this.users, '');
    this.showEmpty();
    this.changed();
  }
}
