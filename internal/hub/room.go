package hub

import "slices"

// Event is one stored event on its way to the sessions of a room.
type Event struct {
	ID    uint64 // stream sequence
	Frame *Frame // the event as clients see it, with its id
	// Target is the message an edit, delete or reaction refers to; 0 for other events.
	Target uint64
	// Edit marks an edit of Target: it goes when Target is erased.
	Edit bool
	// Erase marks a delete: Target and its edits leave the window when it arrives.
	Erase bool
	// Presence marks a join, add, remove or leave: it may wait to share a write
	// (Config.Coalesce).
	Presence bool
}

// erased reports whether ev is gone with the erased messages (their ids as keys).
func (ev Event) erased(gone map[uint64]bool) bool {
	return gone[ev.ID] || ev.Edit && gone[ev.Target]
}

// member is a session's state in one room. A pending member has asked to join and is
// waiting for its joined reply: live events are kept in buf until the reply is queued.
type member struct {
	pending bool
	gen     uint64
	buf     []*Frame
	held    int // events in buf (a frame may hold several)
}

// room is the hub's state of one room with local members.
type room struct {
	name    string
	epoch   uint64 // which feed of this room the hub listens to
	ready   bool   // the feed has told where the room stands
	lastID  uint64 // id of the last event fanned out
	from    uint64 // window holds every event of the room with an id above from
	window  []Event
	members map[*Session]*member
	waiting []*joinReq // joins waiting for the feed to reach their event
}

// push adds an event to the window, keeping at most max of the newest.
func (r *room) push(ev Event, max int) {
	r.window = append(r.window, ev)
	if len(r.window) > 2*max {
		drop := len(r.window) - max
		r.from = r.window[drop-1].ID
		r.window = append(r.window[:0:0], r.window[drop:]...)
	}
	r.lastID = ev.ID
}

// erase drops message target and its edits from the window. The window's array may be
// shared with tickets handed out: a fresh one is made.
func (r *room) erase(target uint64) {
	gone := map[uint64]bool{target: true}
	if !slices.ContainsFunc(r.window, func(ev Event) bool { return ev.erased(gone) }) {
		return
	}
	w := make([]Event, 0, len(r.window))
	for _, ev := range r.window {
		if !ev.erased(gone) {
			w = append(w, ev)
		}
	}
	r.window = w
}

// erasedTargets returns the messages the window's deletes erased.
func (r *room) erasedTargets() map[uint64]bool {
	var gone map[uint64]bool
	for _, ev := range r.window {
		if ev.Erase {
			if gone == nil {
				gone = make(map[uint64]bool)
			}
			gone[ev.Target] = true
		}
	}
	return gone
}

// snapshot returns the window as it stands: the caller may keep it, the hub only appends
// to a fresh array once this one is handed out.
func (r *room) snapshot() []Event {
	w := r.window[:len(r.window):len(r.window)]
	return w
}

// prepend extends the window backwards with evs, which must end at r.from and start just
// after newFrom. It keeps the window within max.
func (r *room) prepend(evs []Event, newFrom uint64, max int) {
	if len(evs) == 0 || evs[len(evs)-1].ID != r.from || len(r.window) >= max {
		return
	}
	if room := max - len(r.window); len(evs) > room {
		newFrom = evs[len(evs)-room-1].ID
		evs = evs[len(evs)-room:]
	}
	// evs were read from the stream, perhaps before a delete in the window erased some
	// of them there: those stay out.
	if gone := r.erasedTargets(); gone != nil {
		evs = slices.DeleteFunc(slices.Clone(evs), func(ev Event) bool { return ev.erased(gone) })
	}
	r.window = append(append(make([]Event, 0, len(evs)+len(r.window)), evs...), r.window...)
	r.from = newFrom
}

func (r *room) empty() bool { return len(r.members) == 0 && len(r.waiting) == 0 }
