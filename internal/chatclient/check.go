package chatclient

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// maxProblems bounds what a Checker keeps; the rest are counted.
const maxProblems = 200

// Checker follows what one session receives over its connections, room by room (see
// RoomCheck), matching joined replies to the joins sent. It is safe for concurrent use.
type Checker struct {
	mu       sync.Mutex
	user     string
	session  string // learnt from the welcome when the gateway made it
	start    Membership
	keep     bool
	where    func() string
	rooms    map[string]*RoomCheck
	asks     map[string][]Ask // joins sent and not answered, by room
	privates []string         // refs of private commands sent and not answered
	problems []string
	dropped  int // problems not kept
}

// CheckerConfig shapes a Checker. Zero values are documented per field.
type CheckerConfig struct {
	User    string
	Session string // zero: learnt from the welcome
	// Fresh: the session is new (no earlier connection of it may still count), so a join
	// without since must make the session's own join or add. Otherwise membership is
	// unknown until the first joined reply of each room.
	Fresh bool
	Keep  bool          // keep the ids received, for Verify
	Where func() string // names the moment in problems (a schedule step); zero: nothing
}

// NewChecker makes a Checker.
func NewChecker(cfg CheckerConfig) *Checker {
	k := &Checker{user: cfg.User, session: cfg.Session, keep: cfg.Keep, where: cfg.Where,
		rooms: map[string]*RoomCheck{}, asks: map[string][]Ask{}}
	if cfg.Fresh {
		k.start = Out
	}
	return k
}

// command is what a Checker reads of a command sent.
type command struct {
	Type       string  `json:"type"`
	ChatroomID string  `json:"chatroomId"`
	Since      *uint64 `json:"since"`
	Ref        string  `json:"ref"`
}

// Sent records a command frame sent to the gateway.
func (k *Checker) Sent(frame []byte) {
	var c command
	if json.Unmarshal(frame, &c) != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch c.Type {
	case "join":
		a := Ask{Ref: c.Ref}
		if c.Since != nil {
			a.Since, a.HasSince = *c.Since, true
		}
		k.asks[c.ChatroomID] = append(k.asks[c.ChatroomID], a)
	case "private":
		k.privates = append(k.privates, c.Ref)
	}
}

// Received checks one object from the gateway, in the order received.
func (k *Checker) Received(m Msg) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case m.Type == "welcome":
		if k.session == "" {
			k.session = m.SessionID
		}
		if k.user == "" { // token mode: the token says who, and the welcome tells
			k.user = m.UserID
		}
	case m.Type == "joined":
		k.joined(m)
	case m.Type == "left":
		k.room(m.ChatroomID).Left()
		k.answered(m.ChatroomID, m.Ref)
	case m.Type == "error" && m.Ref != "":
		for room := range k.asks {
			k.answered(room, m.Ref)
		}
		k.privates = slices.DeleteFunc(k.privates, func(r string) bool { return r == m.Ref })
	case m.Stored():
		if p := k.room(m.ChatroomID).Live(k.event(m)); p != "" {
			k.note(m.ChatroomID, p)
		}
	}
}

func (k *Checker) joined(m Msg) {
	ask, ok := k.answered(m.ChatroomID, m.Ref)
	if !ok && m.Ref != "" {
		if i := slices.Index(k.privates, m.Ref); i >= 0 {
			k.privates = slices.Delete(k.privates, i, i+1)
		}
	}
	evs := make([]Event, 0, len(m.Events))
	for _, e := range m.Events {
		if e.ChatroomID != m.ChatroomID {
			k.note(m.ChatroomID, fmt.Sprintf("joined reply holds %s of another room", e))
		}
		evs = append(evs, k.event(e))
	}
	for _, p := range k.room(m.ChatroomID).Reply(ask, m.Recovered, evs) {
		k.note(m.ChatroomID, p)
	}
}

// answered takes the join of room that ref answers. A reply without a ref answers only a
// join sent without one (the oldest): the gateway's own joins (a private room opened by
// someone else) come without a ref and answer none of the session's.
func (k *Checker) answered(room, ref string) (Ask, bool) {
	asks := k.asks[room]
	for i, a := range asks {
		if a.Ref == ref {
			k.asks[room] = slices.Delete(asks, i, i+1)
			return a, true
		}
	}
	return Ask{}, false
}

func (k *Checker) event(m Msg) Event {
	return Event{ID: m.ID, Type: m.Type, Own: m.UserID == k.user && m.SessionID == k.session && k.session != ""}
}

func (k *Checker) room(name string) *RoomCheck {
	r := k.rooms[name]
	if r == nil {
		r = &RoomCheck{Name: name, Keep: k.keep, Member: k.start}
		k.rooms[name] = r
	}
	return r
}

func (k *Checker) note(room, p string) {
	if len(k.problems) >= maxProblems {
		k.dropped++
		return
	}
	s := fmt.Sprintf("%s/%s in %s: %s", k.user, k.session, room, p)
	if k.where != nil {
		s += " [" + k.where() + "]"
	}
	k.problems = append(k.problems, s)
}

// Note records a problem found outside the checker (by a Session, say).
func (k *Checker) Note(room, format string, args ...any) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.note(room, fmt.Sprintf(format, args...))
}

// Dropped records the end of a connection; left is true when the client closed it with
// 1000. Joins not answered are forgotten.
func (k *Checker) Dropped(left bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range k.rooms {
		r.Dropped(left)
	}
	clear(k.asks)
	k.privates = nil
}

// Expired records that the session's grace period ran out (its client stayed away).
func (k *Checker) Expired() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range k.rooms {
		r.Expired()
	}
}

// Forget makes the session's membership of every room unknown: the client cannot tell
// whether the gateway still counts it (its grace period may or may not have run out).
func (k *Checker) Forget() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, r := range k.rooms {
		r.Member = Unknown
	}
}

// Abandon records that the session gave up a room without a left reply (its connection
// ended before it): the session is out of it once the gateway notices.
func (k *Checker) Abandon(room string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := k.rooms[room]; r != nil {
		r.Left()
	}
}

// Problems returns what was found wrong so far.
func (k *Checker) Problems() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := slices.Clone(k.problems)
	if k.dropped > 0 {
		out = append(out, fmt.Sprintf("%s/%s: ... and %d more problems", k.user, k.session, k.dropped))
	}
	return out
}

// Room returns a copy of what the checker knows of room (zero when nothing).
func (k *Checker) Room(name string) RoomCheck {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.rooms[name]
	if r == nil {
		return RoomCheck{Name: name, Member: k.start}
	}
	c := *r
	c.Segs = make([]Segment, len(r.Segs))
	for i, s := range r.Segs {
		s.IDs = slices.Clone(s.IDs)
		c.Segs[i] = s
	}
	c.Gaps, c.Own, c.reply = slices.Clone(r.Gaps), slices.Clone(r.Own), nil
	return c
}

// Rooms lists the rooms the checker has seen anything of.
func (k *Checker) Rooms() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for name := range k.rooms {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Rejoin returns the join a reconnecting client sends for room: since the last id it
// received, once it received any; nil since before.
func (k *Checker) Rejoin(room string) (since uint64, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.rooms[room]
	if r == nil || len(r.Segs) == 0 {
		return 0, false
	}
	return r.Last, true
}

// Joined reports whether room is joined on the current connection.
func (k *Checker) Joined(room string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.rooms[room]
	return r != nil && r.Joined
}

// Last is the newest id received of room.
func (k *Checker) Last(room string) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r := k.rooms[room]; r != nil {
		return r.Last
	}
	return 0
}
