// The lists beside the conversation: open rooms with unread counts, public rooms with member
// counts, private chats to reopen, and the people online.

import { $, el } from './dom.js';

export class Sidebar {
  /**
   * @param {object} h handlers: select(roomId), leave(roomId), join(roomId), openPrivate(userId)
   */
  constructor(h) {
    this.h = h;
    this.openList = $('open-rooms');
    this.openEmpty = $('open-empty');
    this.publicList = $('public-rooms');
    this.publicEmpty = $('public-empty');
    this.dmPanel = $('dm-panel');
    this.dmList = $('dm-rooms');
    this.peopleList = $('people');
    this.peopleCount = $('people-count');
  }

  /** drawOpen lists the open rooms (Room objects), the active one marked. */
  drawOpen(rooms, activeId) {
    this.openEmpty.hidden = rooms.length > 0;
    this.openList.replaceChildren(
      ...rooms.map((r) => {
        const label = r.isPrivate ? `@${r.title}` : `#${r.title}`;
        const unread = r.unread > 0 ? el('span', { class: 'badge', text: r.unread > 99 ? '99+' : String(r.unread) }) : null;
        const name = r.isPrivate ? `Private chat with ${r.title}` : `Room ${r.title}`;
        return el(
          'li',
          { class: `open-room${r.id === activeId ? ' active' : ''}`, dataset: { room: r.id } },
          el(
            'button',
            {
              type: 'button',
              class: 'room-btn',
              'aria-current': r.id === activeId ? 'true' : null,
              'aria-label': r.unread > 0 ? `${name}, ${r.unread} unread` : name,
              onclick: () => this.h.select(r.id),
            },
            el('span', { class: 'room-name', text: label }),
            unread,
          ),
          el('button', {
            type: 'button',
            class: 'icon-btn small close',
            text: '×',
            title: r.isPrivate ? 'Close' : 'Leave',
            'aria-label': r.isPrivate ? `Close the private chat with ${r.title}` : `Leave room ${r.title}`,
            onclick: () => this.h.leave(r.id),
          }),
        );
      }),
    );
  }

  /** drawDirectory lists public rooms and this user's private rooms from a `rooms` reply. */
  drawDirectory(list, openIds) {
    const pub = list.filter((r) => !r.private).sort((a, b) => b.users - a.users || a.chatroomId.localeCompare(b.chatroomId));
    this.publicEmpty.hidden = pub.length > 0;
    this.publicList.replaceChildren(
      ...pub.map((r) => {
        const n = Number(r.users) || 0;
        const isOpen = openIds.has(r.chatroomId);
        return el(
          'li',
          { dataset: { room: r.chatroomId } },
          el(
            'button',
            {
              type: 'button',
              class: `room-btn${isOpen ? ' is-open' : ''}`,
              'aria-label': `${isOpen ? 'Go to' : 'Join'} room ${r.chatroomId}, ${n} ${n === 1 ? 'person' : 'people'} in it`,
              onclick: () => this.h.join(r.chatroomId),
            },
            el('span', { class: 'room-name', text: `#${r.chatroomId}` }),
            unreadBadge(r, isOpen),
            el('span', { class: 'count', text: String(n), title: `${n} ${n === 1 ? 'person' : 'people'} in the room` }),
          ),
        );
      }),
    );
    const dms = list.filter((r) => r.private && r.peer && !openIds.has(r.chatroomId));
    this.dmPanel.hidden = dms.length === 0;
    this.dmList.replaceChildren(
      ...dms.map((r) =>
        el(
          'li',
          { dataset: { room: r.chatroomId } },
          el(
            'button',
            {
              type: 'button',
              class: 'room-btn',
              'aria-label': `Open the private chat with ${r.peer}`,
              onclick: () => this.h.join(r.chatroomId, r.peer),
            },
            el('span', { class: 'room-name', text: `@${r.peer}` }),
            unreadBadge(r, false),
          ),
        ),
      ),
    );
  }

  /** drawPeople lists users online, this user first and not clickable. */
  drawPeople(users, me) {
    const list = [...users.values()].sort((a, b) => (a.userId === me ? -1 : b.userId === me ? 1 : a.userId.localeCompare(b.userId)));
    this.peopleCount.textContent = list.length ? `(${list.length})` : '';
    this.peopleList.replaceChildren(
      ...list.map((u) => {
        const self = u.userId === me;
        const sessions = u.sessions > 1 ? el('span', { class: 'count', text: `${u.sessions} tabs`, title: `${u.sessions} connections` }) : null;
        return el(
          'li',
          { dataset: { user: u.userId } },
          el(
            'button',
            {
              type: 'button',
              class: 'person',
              disabled: self,
              'aria-label': self ? `${u.userId} (you)` : `Chat privately with ${u.userId}`,
              onclick: () => this.h.openPrivate(u.userId),
            },
            el('span', { class: 'presence-dot', 'aria-hidden': 'true' }),
            el('span', { class: 'person-name', text: self ? `${u.userId} (you)` : u.userId }),
            sessions,
          ),
        );
      }),
    );
  }
}

/** unreadBadge shows the gateway's unread count of a room that is not open (100 means 100 or more). */
function unreadBadge(r, isOpen) {
  const n = Number(r.unread) || 0;
  if (isOpen || n <= 0) return null;
  const text = n >= 100 ? '99+' : String(n);
  return el('span', { class: 'badge', text, title: `${n >= 100 ? '100 or more' : n} unread` });
}
