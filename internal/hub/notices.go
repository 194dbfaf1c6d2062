package hub

import "slices"

// Typing passes a typing notice of user to the other users' live members of room. It is
// best effort: when the hub is busy the notice is dropped, never waited for.
func (h *Hub) Typing(room, user string, f *Frame) {
	select {
	case <-h.done:
	case h.feedc <- typingReq{room, user, f}:
	default:
	}
}

type typingReq struct {
	room, user string
	f          *Frame
}

func (q typingReq) apply(h *Hub) {
	r := h.rooms[q.room]
	if r == nil {
		return
	}
	now, wait := h.now(), h.coalesce()
	for s, m := range r.members {
		if s.User == q.user || m.pending {
			continue
		}
		if !h.queue(s, q.f, true, now, wait) {
			h.remove(s)
		}
	}
}

// ToUser queues f for every local session of user but the connection except (a read
// marker, which the sending connection answers itself).
func (h *Hub) ToUser(user, except string, f *Frame) error {
	return h.send(h.feedc, toUserReq{user, except, f})
}

type toUserReq struct {
	user, except string
	f            *Frame
}

func (q toUserReq) apply(h *Hub) {
	// A copy: remove changes the user's set.
	for _, s := range slices.Clone(h.byUser[q.user]) {
		if s.Conn == q.except {
			continue
		}
		if !s.Send(q.f) {
			h.remove(s)
		}
	}
}
