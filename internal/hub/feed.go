package hub

// Reset tells the hub where a room stands when its feed starts: lastID is the id of the
// room's newest stored event (0 for none). Events above it follow through Deliver.
func (h *Hub) Reset(room string, epoch, lastID uint64) error {
	return h.send(h.feedc, resetReq{room, epoch, lastID})
}

// Deliver fans out a room's events, in order, with no gap and no duplicate: the feed
// guarantees both. Events of a feed the hub no longer listens to are ignored.
func (h *Hub) Deliver(room string, epoch uint64, evs []Event) error {
	return h.send(h.feedc, deliverReq{room, epoch, evs})
}

type resetReq struct {
	room          string
	epoch, lastID uint64
}

func (q resetReq) apply(h *Hub) {
	r := h.rooms[q.room]
	if r == nil || r.epoch != q.epoch || r.ready {
		return
	}
	r.ready, r.lastID, r.from = true, q.lastID, q.lastID
	h.admit(r)
}

type deliverReq struct {
	room  string
	epoch uint64
	evs   []Event
}

func (q deliverReq) apply(h *Hub) {
	r := h.rooms[q.room]
	if r == nil || r.epoch != q.epoch || !r.ready {
		return
	}
	for _, ev := range q.evs {
		if ev.ID <= r.lastID {
			continue
		}
		r.push(ev, h.cfg.Window)
		h.fanout(r, ev.Frame)
	}
	h.admit(r)
}

// fanout queues f for every member of r without blocking; members that cannot keep up are
// cut and removed.
func (h *Hub) fanout(r *room, f *Frame) {
	for s, m := range r.members {
		if m.pending {
			if len(m.buf) >= h.cfg.PendingMax {
				h.cutSlow(s)
				continue
			}
			m.buf = append(m.buf, f)
			continue
		}
		if !s.Send(f) {
			h.remove(s)
		}
	}
}
