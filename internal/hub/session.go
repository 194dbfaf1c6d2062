package hub

import "time"

// Frame is one encoded JSON object queued for a session. An event's frame is encoded once
// per gateway and shared by every session that receives it; nobody modifies it after.
// A frame with Close set carries no data: the writer closes the connection with that code
// once everything queued before it is written.
type Frame struct {
	Data  []byte
	Close int
}

// Session is a connection as the hub sees it. Its fields are set by NewSession and never
// change; the queue is a channel, shared only by sending and receiving.
type Session struct {
	User string // userId
	ID   string // sessionId
	Conn string // this connection's id: a reconnect of the same session has another

	// out is the bounded outgoing queue. Sent to by the hub and by the connection's reader
	// (replies), without blocking; received from by the connection's writer.
	out  chan *Frame
	wake func()                     // starts the writer if it is not running; never blocks
	cut  func(code int, why string) // closes the connection at once; never blocks
}

// NewSession makes a session with a queue of the given capacity (zero means 256). wake is
// called after every send so the connection can start its writer; cut closes the connection
// without waiting for the queue (used when the queue is full). Neither may block.
func NewSession(user, id, conn string, capacity int, wake func(), cut func(code int, why string)) *Session {
	if capacity <= 0 {
		capacity = 256
	}
	return &Session{User: user, ID: id, Conn: conn, out: make(chan *Frame, capacity), wake: wake, cut: cut}
}

// Out is the session's outgoing queue, for its writer.
func (s *Session) Out() <-chan *Frame { return s.out }

// Send queues f without blocking. When the queue is full the session is too slow to keep
// up: it is cut with 4000 and Send reports false.
func (s *Session) Send(f *Frame) bool {
	select {
	case s.out <- f:
		s.wake()
		return true
	default:
		s.cut(CloseSlow, "too slow to keep up, rejoin with since")
		return false
	}
}

// SendWait queues f, waiting while the queue is full. It is for a connection's replies to
// its own commands, sent by its reader: a client that floods commands is slowed down (its
// reader stops reading) rather than cut. When the timeout passes first, the session is cut as too
// slow and SendWait reports false. The hub itself never waits.
func (s *Session) SendWait(timeout time.Duration, f *Frame) bool {
	select {
	case s.out <- f:
		s.wake()
		return true
	default:
	}
	s.wake()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case s.out <- f:
		s.wake()
		return true
	case <-t.C:
		s.cut(CloseSlow, "too slow to keep up, rejoin with since")
		return false
	}
}

// SendAll queues frames in order; it stops at the first that does not fit.
func (s *Session) SendAll(fs []*Frame) bool {
	for _, f := range fs {
		if !s.Send(f) {
			return false
		}
	}
	return true
}

// key identifies a session across connections: a user's sessions are independent of
// another user's sessions with the same id.
func (s *Session) key() string { return s.User + "\x00" + s.ID }

// CloseSlow and CloseReplaced are the close codes the hub itself uses.
const (
	CloseSlow     = 4000
	CloseReplaced = 4001
)
