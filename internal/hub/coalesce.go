package hub

import "time"

// now is the hub's clock for Config.Coalesce: monotonic, BusyStretch times Coalesce at New.
func (h *Hub) now() time.Duration { return time.Since(h.start) }

// coalesce is how long presence waits now (Config.Coalesce, stretched while Config.Busy).
func (h *Hub) coalesce() time.Duration {
	if h.cfg.Busy != nil && h.cfg.Coalesce > 0 && h.cfg.Busy() {
		return BusyStretch * h.cfg.Coalesce
	}
	return h.cfg.Coalesce
}

// queue queues an event frame for s. Presence (lazy) waits out of the writer's sight until
// the next flush when presence was released to s less than wait (h.coalesce, read once per
// fan-out) ago; the writer of a busy session, which takes whatever is queued each time it
// has written, would otherwise write presence one event at a time. It reports false when s
// was cut as too slow.
func (h *Hub) queue(s *Session, f *Frame, lazy bool, now, wait time.Duration) bool {
	if !lazy || wait < 0 {
		return s.Send(f)
	}
	if !s.enqueue(f, true) {
		return false
	}
	switch {
	case s.lazy: // the next flush releases it
	case now-s.woken >= wait:
		s.woken = now
		s.release()
	default:
		s.lazy = true
		if len(h.lazy) == 0 {
			h.flushing.Reset(wait)
		}
		h.lazy = append(h.lazy, s)
	}
	return true
}

// flush releases the presence that waited to the sessions' writers (unless something else
// queued for them carried it along already).
func (h *Hub) flush() {
	now := h.now()
	for i, s := range h.lazy {
		h.lazy[i] = nil
		s.lazy = false
		if _, ok := h.sessions[s]; ok {
			s.woken = now
			s.release()
		}
	}
	h.lazy = h.lazy[:0]
	if cap(h.lazy) > 4096 {
		h.lazy = nil // a storm's list is not kept
	}
}
