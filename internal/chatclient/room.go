package chatclient

import (
	"fmt"
	"slices"
)

// Event is what a room check needs of one stored event.
type Event struct {
	ID   uint64
	Type string // message, join, add, remove, leave
	Own  bool   // the checked session's own event (its userId and sessionId)
}

// Enter reports whether e is a join or add.
func (e Event) Enter() bool { return e.Type == "join" || e.Type == "add" }

// Exit reports whether e is a remove or leave.
func (e Event) Exit() bool { return e.Type == "remove" || e.Type == "leave" }

func (e Event) String() string {
	if e.Own {
		return fmt.Sprintf("%s %d (own)", e.Type, e.ID)
	}
	return fmt.Sprintf("%s %d", e.Type, e.ID)
}

// Ask is what a join asked for.
type Ask struct {
	Since    uint64
	HasSince bool
	Ref      string
}

// Membership is whether the session counts in a room, as far as its client knows.
type Membership int

const (
	Unknown Membership = iota // a connection that does not know the session's past
	In                        // joined and not left: a first join makes no presence event
	Out                       // never joined, left, closed with 1000, or expired
)

// Segment is a run of a room's events a session received without a gap it was told of:
// the events of a joined reply and the live ones after it, over reconnects that rejoined
// with since. Verify compares it with the room's stored events.
type Segment struct {
	// Exact: the segment must hold every stored event of the room after After (a join with
	// since that was recovered). Otherwise it starts at its first id (the latest events of
	// a join without since, or a reply that was not recovered).
	Exact bool
	After uint64
	IDs   []uint64
	How   string // how it started: "join", "join since 12", ...
}

// Gap is a rejoin answered with recovered:false: the client was told it misses events.
type Gap struct {
	Since, First uint64 // asked since; the first id of the reply (0: empty)
}

// RoomCheck follows what one session receives of one room, across its connections. It is
// not safe for concurrent use; a Checker guards its own.
type RoomCheck struct {
	Name   string
	Keep   bool   // keep the ids received, for Verify
	Last   uint64 // the newest id received
	Member Membership
	Joined bool // a joined reply came on the current connection, and no left after it
	Segs   []Segment
	Gaps   []Gap
	Own    []uint64 // ids of the session's own join/add events received
	open   bool     // Segs' last segment goes on (live events and rejoins with since append)
	reply  []uint64 // the ids of the last joined reply, for reporting one that comes again
}

// Reply checks a joined reply to ask, with recovered and evs as received, and returns what
// is wrong with it.
func (r *RoomCheck) Reply(ask Ask, recovered bool, evs []Event) []string {
	var problems []string
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			problems = append(problems, fmt.Sprintf("joined reply holds %s after %s (duplicate or out of order); reply ids %v",
				evs[i], evs[i-1], shortIDs(evs)))
			break
		}
	}
	if ask.HasSince && len(evs) > 0 && evs[0].ID <= ask.Since {
		problems = append(problems, fmt.Sprintf("joined reply to since %d holds %s", ask.Since, evs[0]))
	}
	// The session's own join/add ends the reply of a first join. A connection that does not
	// know the session's past (Unknown) cannot tell a new one from one of an earlier
	// membership, which any reply without since may hold.
	own := -1
	for i, e := range evs {
		if e.Own && e.Enter() && e.ID > r.Last {
			own = i
		}
	}
	switch {
	case r.Member == Unknown:
	case own >= 0 && own != len(evs)-1:
		problems = append(problems, fmt.Sprintf("the session's own %s is not the last event of its joined reply: %v follow",
			evs[own], shortIDs(evs[own+1:])))
	case own < 0 && r.Member == Out:
		last := "none"
		if len(evs) > 0 {
			last = evs[len(evs)-1].String()
		}
		problems = append(problems, fmt.Sprintf("first joined (%s) does not end with the session's own join/add: last event %s", askString(ask), last))
	}
	if own >= 0 {
		r.Own = append(r.Own, evs[own].ID)
	}
	r.segment(ask, recovered, evs)
	r.reply = r.reply[:0]
	for _, e := range evs {
		r.reply = append(r.reply, e.ID)
		r.Last = max(r.Last, e.ID)
	}
	r.Joined, r.Member = true, In
	return problems
}

// segment records the ids of a joined reply.
func (r *RoomCheck) segment(ask Ask, recovered bool, evs []Event) {
	cur := r.current()
	switch {
	case ask.HasSince && !recovered:
		first := uint64(0)
		if len(evs) > 0 {
			first = evs[0].ID
		}
		r.Gaps = append(r.Gaps, Gap{Since: ask.Since, First: first})
		r.start(Segment{How: "join since " + fmt.Sprint(ask.Since) + ", not recovered"})
	case ask.HasSince && r.open && cur != nil && ask.Since == r.Last:
		// A rejoin where the client left off: the same run goes on.
	case ask.HasSince:
		r.start(Segment{Exact: true, After: ask.Since, How: "join since " + fmt.Sprint(ask.Since)})
	case r.Joined && r.open:
		// Joined again on the same connection: what is new goes on the run.
		for _, e := range evs {
			if e.ID > r.Last {
				r.add(e.ID)
			}
		}
		return
	default:
		r.start(Segment{How: "join"})
	}
	for _, e := range evs {
		r.add(e.ID)
	}
}

func (r *RoomCheck) current() *Segment {
	if len(r.Segs) == 0 {
		return nil
	}
	return &r.Segs[len(r.Segs)-1]
}

func (r *RoomCheck) start(s Segment) {
	r.Segs = append(r.Segs, s)
	r.open = true
}

func (r *RoomCheck) add(id uint64) {
	if !r.Keep {
		return
	}
	if cur := r.current(); cur != nil {
		cur.IDs = append(cur.IDs, id)
	}
}

// Live checks an event that came after the joined reply, and returns what is wrong with it
// ("" when nothing is).
func (r *RoomCheck) Live(e Event) string {
	switch {
	case !r.Joined:
		return fmt.Sprintf("live %s without a joined reply on this connection (before it, or after left)", e)
	case e.ID <= r.Last && slices.Contains(r.reply, e.ID):
		return fmt.Sprintf("live %s came in the joined reply already (reply ids %v)", e, shortList(r.reply))
	case e.ID == r.Last:
		return fmt.Sprintf("live %s delivered twice (duplicate)", e)
	case e.ID < r.Last:
		return fmt.Sprintf("live %s after id %d (duplicate or out of order)", e, r.Last)
	}
	r.Last = e.ID
	r.add(e.ID)
	if e.Own && e.Exit() {
		return fmt.Sprintf("live %s: a session does not receive its own remove/leave", e)
	}
	return ""
}

// Left records a left reply: the session is out of the room.
func (r *RoomCheck) Left() {
	r.Joined, r.Member, r.open = false, Out, false
}

// Dropped records the end of the connection; left is true when the client closed it with
// 1000 (the session has left every room).
func (r *RoomCheck) Dropped(left bool) {
	r.Joined = false
	if left {
		r.Member = Out
	}
}

// Expired records that the session's grace period ran out: it no longer counts in the
// room, and its next join makes a presence event again.
func (r *RoomCheck) Expired() {
	if r.Member == In {
		r.Member = Out
	}
}

func askString(a Ask) string {
	if a.HasSince {
		return fmt.Sprintf("since %d", a.Since)
	}
	return "no since"
}

// shortIDs lists the ids of evs, eliding the middle of a long list.
func shortIDs(evs []Event) string {
	ids := make([]uint64, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return shortList(ids)
}

func shortList(ids []uint64) string {
	if len(ids) <= 12 {
		return fmt.Sprint(ids)
	}
	return fmt.Sprintf("%v ... %v (%d ids)", ids[:6], ids[len(ids)-6:], len(ids))
}
