package hub

import "context"

// Register adds a connected session. A session already connected here with the same user
// and session id is replaced: it is cut with 4001.
func (h *Hub) Register(s *Session) error { return h.send(h.reqc, registerReq{s}) }

// Unregister removes a session from the hub and from every room it was in.
//
// It returns once the hub has applied it, so that nothing is handed to the session
// afterwards: a connection ending stores its leave only after this returns, and the
// session must not receive its own leave.
func (h *Hub) Unregister(s *Session) error {
	done := make(chan struct{}, 1)
	_, err := ask(context.Background(), h, unregisterReq{s, done}, done)
	return err
}

type registerReq struct{ s *Session }

func (r registerReq) apply(h *Hub) {
	if old := h.byKey[r.s.key()]; old != nil {
		old.cut(CloseReplaced, "replaced by a newer connection of this session")
		h.remove(old)
	}
	h.sessions[r.s] = struct{}{}
	h.byKey[r.s.key()] = r.s
	u := h.byUser[r.s.User]
	u.Add(r.s)
	h.byUser[r.s.User] = u
}

type unregisterReq struct {
	s    *Session
	done chan struct{}
}

func (r unregisterReq) apply(h *Hub) {
	h.remove(r.s)
	r.done <- struct{}{}
}

// remove takes a session out of every map and room; rooms left empty stop.
func (h *Hub) remove(s *Session) {
	if _, ok := h.sessions[s]; !ok {
		return
	}
	for len(s.rooms) > 0 { // leaveRoom takes the room out of s.rooms
		h.leaveRoom(s, s.rooms[len(s.rooms)-1])
	}
	delete(h.sessions, s)
	if h.byKey[s.key()] == s {
		delete(h.byKey, s.key())
	}
	if u, ok := h.byUser[s.User]; ok {
		if u.Delete(s); len(u) == 0 {
			delete(h.byUser, s.User)
		} else {
			h.byUser[s.User] = u
		}
	}
}

// leaveRoom takes s out of one room, including a join it is waiting for.
func (h *Hub) leaveRoom(s *Session, name string) {
	s.rooms.Delete(name)
	r := h.rooms[name]
	if r == nil {
		return
	}
	delete(r.members, s)
	kept := r.waiting[:0]
	for _, w := range r.waiting {
		if w.s != s {
			kept = append(kept, w)
		} else {
			close(w.reply)
		}
	}
	r.waiting = kept
	if r.empty() {
		delete(h.rooms, name)
		h.cfg.Feeds.Stop(name, r.epoch)
	}
}

// cutSlow closes a session that cannot keep up and forgets it.
func (h *Hub) cutSlow(s *Session) {
	s.cut(CloseSlow, "too slow to keep up, rejoin with since")
	h.remove(s)
}

// Kick cuts the local connection conn of a session, if it is still here, with code and
// reason: 4001 for a take-over, 1001 for a session the cluster took for gone.
func (h *Hub) Kick(user, session, conn string, code int, reason string) error {
	return h.send(h.reqc, kickReq{user + "\x00" + session, conn, code, reason})
}

type kickReq struct {
	key, conn string
	code      int
	reason    string
}

func (k kickReq) apply(h *Hub) {
	if s := h.byKey[k.key]; s != nil && s.Conn == k.conn {
		s.cut(k.code, k.reason)
		h.remove(s)
	}
}
