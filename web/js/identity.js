// What the page remembers between visits: the name or token (localStorage), the session id
// and the tab's open rooms and unsent messages (sessionStorage, so a reload loses nothing).

import { randomId, validName } from './protocol.js';

const K = {
  user: 'chathub.user',
  token: 'chathub.token',
  session: 'chathub.session',
  rooms: 'chathub.rooms',
  outbox: 'chathub.outbox',
};

function get(store, key) {
  try {
    return store.getItem(key) || '';
  } catch {
    return ''; // storage switched off: the page still works, it just forgets
  }
}

function set(store, key, value) {
  try {
    if (value === '' || value == null) store.removeItem(key);
    else store.setItem(key, value);
  } catch {
    /* storage full or off */
  }
}

export const identity = {
  get user() {
    return get(localStorage, K.user);
  },
  set user(v) {
    set(localStorage, K.user, v);
  },
  get token() {
    return get(localStorage, K.token);
  },
  set token(v) {
    set(localStorage, K.token, v);
  },

  /** session is this tab's sessionId; a reload keeps it, a new tab makes its own. */
  get session() {
    let s = get(sessionStorage, K.session);
    if (!validName(s)) {
      s = randomId(24);
      set(sessionStorage, K.session, s);
    }
    return s;
  },
  newSession() {
    set(sessionStorage, K.session, randomId(24));
  },

  /**
   * takeFragmentToken moves a `#token=...` from the address into storage, and out of the
   * address bar (so it is not shared by copying the link or seen in a screenshot).
   */
  takeFragmentToken(loc = location, hist = history) {
    const frag = new URLSearchParams(loc.hash.replace(/^#/, ''));
    const token = frag.get('token');
    if (!token) return false;
    this.token = token.trim();
    frag.delete('token');
    const rest = frag.toString();
    hist.replaceState(null, '', loc.pathname + loc.search + (rest ? '#' + rest : ''));
    return true;
  },

  /** openRooms are the rooms to rejoin on load: this tab's, else the last tab's, of this user. */
  loadRooms(user) {
    for (const store of [sessionStorage, localStorage]) {
      try {
        const saved = JSON.parse(get(store, K.rooms) || 'null');
        if (saved && saved.user === user && Array.isArray(saved.rooms)) return saved;
      } catch {
        /* ignore a damaged entry */
      }
    }
    return null;
  },
  saveRooms(user, rooms, active) {
    const v = JSON.stringify({ user, rooms, active });
    set(sessionStorage, K.rooms, v);
    set(localStorage, K.rooms, v);
  },

  /** outbox: messages typed but not acked, per room, kept across a reload of this tab. */
  loadOutbox(user) {
    try {
      const saved = JSON.parse(get(sessionStorage, K.outbox) || 'null');
      if (saved && saved.user === user && saved.rooms && typeof saved.rooms === 'object') return saved.rooms;
    } catch {
      /* ignore */
    }
    return {};
  },
  saveOutbox(user, rooms) {
    set(sessionStorage, K.outbox, JSON.stringify({ user, rooms }));
  },

  forget() {
    this.user = '';
    this.token = '';
    set(sessionStorage, K.rooms, '');
    set(localStorage, K.rooms, '');
    set(sessionStorage, K.outbox, '');
  },
};
