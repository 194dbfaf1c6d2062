package hub

import (
	"sync"
	"time"

	"github.com/chathub/chathub/internal/smallset"
)

// Frame is one encoded JSON object queued for a session. An event's frame is encoded once
// per gateway and shared by every session that receives it; nobody modifies it after.
// A frame with Close set carries no data: the writer closes the connection with that code
// once everything queued before it is written.
type Frame struct {
	Data  []byte
	Close int
	// Own marks a frame queued with Reply (a reply, a welcome, a close): it does not count
	// against the session's budget for events.
	Own bool
}

// Session is a connection as the hub sees it. Its names are set by NewSession and never
// change; its queue is shared by the hub and the connection (which queue) and the
// connection's writer (which takes), under a mutex with no I/O under it.
type Session struct {
	User string // userId
	ID   string // sessionId
	Conn string // this connection's id: a reconnect of the same session has another

	budget  int                        // bytes of events that may wait for the writer
	wake    func()                     // starts the writer if it is not running; never blocks
	cut     func(code int, why string) // closes the connection at once; never blocks
	drained chan struct{}              // holds a token after the writer has written some

	// Owned by the hub goroutine (Config.Coalesce): when the hub last released presence to
	// the writer (the hub's clock, which starts late enough for 0 to mean never), and
	// whether a flush is to release it.
	woken time.Duration
	lazy  bool
	// Owned by the hub goroutine: the rooms s is in or waiting to join.
	rooms smallset.Set[string]

	mu     sync.Mutex
	q      []*Frame // waiting for the writer, oldest first
	lq     []*Frame // presence after q, waiting for the hub's flush (Config.Coalesce)
	lqLast int32    // how many frames lq held when it was last released: the next one's room
	events int      // bytes of events in q and taken but not yet written
	own    int      // bytes of replies likewise
}

// DefaultBudget is a session's budget when NewSession is given none: 4 MiB, tens of seconds
// of a busy room even for a phone on a slow network.
const DefaultBudget = 4 << 20

// NewSession makes a session whose queue may hold budget bytes of events (zero means
// DefaultBudget) before it is cut as too slow. wake is called after every queueing so the
// connection can start its writer; cut closes the connection without waiting for the
// queue. Neither may block.
func NewSession(user, id, conn string, budget int, wake func(), cut func(code int, why string)) *Session {
	if budget <= 0 {
		budget = DefaultBudget
	}
	return &Session{User: user, ID: id, Conn: conn, budget: budget, wake: wake, cut: cut,
		drained: make(chan struct{}, 1)}
}

// Send queues an event frame without blocking. When what is queued would exceed the
// session's budget the client is not reading: it is cut with 4000 and Send reports false.
func (s *Session) Send(f *Frame) bool {
	if !s.enqueue(f, false) {
		return false
	}
	s.wake()
	return true
}

// enqueue is Send without waking the writer; a lazy frame waits in lq, out of the writer's
// sight, until release or a frame that is not lazy.
func (s *Session) enqueue(f *Frame, lazy bool) bool {
	s.mu.Lock()
	if s.events+len(f.Data) > s.budget {
		s.mu.Unlock()
		s.cut(CloseSlow, "too slow to keep up, rejoin with since")
		return false
	}
	if lazy {
		if s.lq == nil {
			// Made once at the size the last one reached, not grown by doubling: in a join
			// storm each session's lq fills with hundreds of notices between flushes.
			s.lq = make([]*Frame, 0, max(4, s.lqLast))
		}
		s.lq = append(s.lq, f)
	} else {
		s.releaseLocked()
		s.q = append(s.q, f)
	}
	s.events += len(f.Data)
	s.mu.Unlock()
	return true
}

// release hands the writer what waits in lq and wakes it, if anything waited.
func (s *Session) release() {
	s.mu.Lock()
	n := len(s.lq)
	s.releaseLocked()
	s.mu.Unlock()
	if n > 0 {
		s.wake()
	}
}

// releaseLocked moves lq behind q, keeping the order frames were queued in.
func (s *Session) releaseLocked() {
	if len(s.lq) == 0 {
		return
	}
	s.lqLast = int32(min(len(s.lq), 1024))
	switch {
	case len(s.q) == 0: // the writer took everything: lq becomes the queue, nothing copied
		s.q = s.lq
	default:
		s.q = append(s.q, s.lq...)
	}
	s.lq = nil // made again by the next presence: an idle session keeps no slice
}

// SendAll queues event frames in order; it stops at the first that does not fit.
func (s *Session) SendAll(fs []*Frame) bool {
	for _, f := range fs {
		if !s.Send(f) {
			return false
		}
	}
	return true
}

// Reply queues a frame whatever its size: a reply to the client's own command, a welcome,
// a close. Replies never make a session "too slow"; the connection stops reading commands
// while its queue is over budget instead (see Queued and Drained).
func (s *Session) Reply(f *Frame) {
	f.Own = true
	s.mu.Lock()
	s.releaseLocked()
	s.q = append(s.q, f)
	s.own += len(f.Data)
	s.mu.Unlock()
	s.wake()
}

// Take empties the queue for the writer, returning what was queued, oldest first. The
// bytes still count as queued until the writer says they are Written (Size tells a
// frame's).
//
// dst is the slice the writer's last Take returned, every entry cleared (nil at first): it
// becomes the queue's and the queue's slice is returned as it is, so a busy session's two
// slices serve in turn, never copied or grown once they have the size of what comes between
// two takes. (Copying into the writer's slice, with the queue's dropped after a burst, was
// 4 % of the process's CPU at 12,000 msg/s, growing slices.) When nothing is queued, a
// queue grown past 16 by a burst is dropped: the writer ends, and an idle session keeps
// no burst's slice.
func (s *Session) Take(dst []*Frame) []*Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.q) == 0 {
		if cap(s.q) > 16 {
			s.q = nil
		}
		return dst[:0]
	}
	q := s.q
	s.q = dst[:0]
	return q
}

// Written tells that frames taken, holding events and own bytes, have been written.
func (s *Session) Written(events, own int) {
	s.mu.Lock()
	s.events -= events
	s.own -= own
	s.mu.Unlock()
	select {
	case s.drained <- struct{}{}:
	default:
	}
}

// Size returns a frame's bytes as Written counts them: events, or own.
func Size(f *Frame) (events, own int) {
	if f.Own {
		return 0, len(f.Data)
	}
	return len(f.Data), 0
}

// Empty reports whether nothing waits for the writer (presence waiting for the hub's flush
// does not count: the flush wakes the writer).
func (s *Session) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q) == 0
}

// Queued is how many bytes, events and replies, wait for the writer or are being written.
func (s *Session) Queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events + s.own
}

// Budget is the session's budget in bytes.
func (s *Session) Budget() int { return s.budget }

// Drained is signalled after the writer has written something.
func (s *Session) Drained() <-chan struct{} { return s.drained }

// key identifies a session across connections: a user's sessions are independent of
// another user's sessions with the same id.
func (s *Session) key() string { return s.User + "\x00" + s.ID }

// CloseSlow and CloseReplaced are the close codes the hub itself uses.
const (
	CloseSlow     = 4000
	CloseReplaced = 4001
)
