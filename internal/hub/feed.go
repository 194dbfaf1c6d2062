package hub

import "time"

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
	fresh := make([]Event, 0, len(q.evs))
	lazy := true // only presence: it may wait
	for _, ev := range q.evs {
		if ev.ID > r.lastID {
			r.push(ev, h.cfg.Window)
			fresh = append(fresh, ev)
			lazy = lazy && ev.Presence
			if ev.Erase {
				r.erase(ev.Target)
			}
		}
	}
	if len(fresh) > 0 && len(r.members) > 0 {
		h.fanout(r, batch(fresh), len(fresh), lazy)
	}
	h.admit(r)
}

// batch is the frame of several events: their objects, newline-separated, so each member
// takes one queue slot and one write for the whole batch. One event's frame is its own.
func batch(evs []Event) *Frame {
	if len(evs) == 1 {
		return evs[0].Frame
	}
	n := len(evs) - 1
	for _, ev := range evs {
		n += len(ev.Frame.Data)
	}
	data := make([]byte, 0, n)
	for i, ev := range evs {
		if i > 0 {
			data = append(data, '\n')
		}
		data = append(data, ev.Frame.Data...)
	}
	return &Frame{Data: data}
}

// fanout queues f (holding events events; lazy: presence only, see Config.Coalesce) for
// every member of r without blocking; members that cannot keep up are
// cut and removed.
func (h *Hub) fanout(r *room, f *Frame, events int, lazy bool) {
	now, wait := h.now(), time.Duration(0)
	if lazy {
		wait = h.coalesce()
	}
	for s, m := range r.members {
		if m.pending {
			if m.held += events; m.held > h.cfg.PendingMax {
				h.cutSlow(s)
				continue
			}
			m.buf = append(m.buf, f)
			continue
		}
		if !h.queue(s, f, lazy, now, wait) {
			h.remove(s)
		}
	}
}
