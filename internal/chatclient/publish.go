package chatclient

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// publisher is the state of a session's posting; guarded by Session.mu.
type publisher struct {
	n       int
	order   []string               // refs of pending messages, oldest first
	pending map[string]*pendingMsg // by ref
	acked   map[string]Acked       // by ref
	sent    int
	resent  int
}

type pendingMsg struct {
	room, text string
	gen        int       // the connection it was last sent on; 0: not sent yet
	retryAt    time.Time // not zero: refused, send again at or after
}

// Acked is an acknowledged message.
type Acked struct {
	Room string
	ID   uint64
}

// MessageKey is the key a Session's generated message text starts with: who posted it,
// under which ref.
func MessageKey(user, session, ref string) string { return user + "/" + session + "/" + ref }

// Post queues a message to room, with a fresh ref, and returns the ref. An empty text is
// made of the message's key (MessageKey) and the time. It is sent (and
// sent again after a reconnect, or when refused with a code that allows it) while room is
// joined, until acknowledged.
func (s *Session) Post(room, text string) string {
	s.mu.Lock()
	ref := s.newMsg(room, text)
	s.mu.Unlock()
	s.wake()
	return ref
}

// newMsg queues a message. Called with mu held. A text made here starts with the message's
// key, "user/session/ref" (MessageKey), unique over all sessions.
func (s *Session) newMsg(room, text string) string {
	s.pub.n++
	ref := s.cfg.User + "-" + strconv.Itoa(s.pub.n)
	if text == "" {
		text = MessageKey(s.cfg.User, s.cfg.Session, ref) + " " + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	s.pub.pending[ref] = &pendingMsg{room: room, text: text}
	s.pub.order = append(s.pub.order, ref)
	return ref
}

// SetPublishing switches posting to Config.Publish on or off; messages already posted are
// sent until acknowledged either way.
func (s *Session) SetPublishing(on bool) {
	s.mu.Lock()
	s.publishing = on
	s.mu.Unlock()
	s.wake()
}

// publish sends the messages due on connection gen, at Config.Rate or as acks make room.
func (s *Session) publish(ctx context.Context, c *Conn, gen int) {
	period := 20 * time.Millisecond
	if s.cfg.Rate > 0 {
		period = time.Duration(float64(time.Second) / s.cfg.Rate)
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	ticked := false
	for {
		for _, b := range s.due(gen, ticked) {
			if s.send(ctx, c, b) != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			ticked = true
		case <-s.kick:
			ticked = false
		}
	}
}

// due returns the message frames to send now on connection gen: what was not sent on it or
// is due again, then new messages while publishing (one a tick at a rate, else as many as
// the window allows).
func (s *Session) due(gen int, ticked bool) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return nil
	}
	now := time.Now()
	inflight := 0
	for _, p := range s.pub.pending {
		if p.gen == gen && p.retryAt.IsZero() {
			inflight++
		}
	}
	var out [][]byte
	s.pub.order = slices.DeleteFunc(s.pub.order, func(ref string) bool { return s.pub.pending[ref] == nil })
	for _, ref := range s.pub.order {
		p := s.pub.pending[ref]
		waiting := p.gen == gen && (p.retryAt.IsZero() || now.Before(p.retryAt))
		if waiting || inflight >= s.cfg.InFlight || !s.check.Joined(p.room) {
			continue
		}
		if p.gen != 0 {
			s.pub.resent++
		} else {
			s.pub.sent++
		}
		p.gen, p.retryAt = gen, time.Time{}
		inflight++
		out = append(out, msgFrame(p.room, ref, p.text))
	}
	room := s.cfg.Publish
	if !s.publishing || room == "" || !s.check.Joined(room) {
		return out
	}
	n := s.cfg.InFlight - inflight
	if s.cfg.Rate > 0 {
		n = min(n, 1)
		if !ticked {
			n = 0
		}
	}
	for range n {
		ref := s.newMsg(room, "")
		p := s.pub.pending[ref]
		p.gen = gen
		s.pub.sent++
		out = append(out, msgFrame(room, ref, p.text))
	}
	return out
}

func msgFrame(room, ref, text string) []byte {
	return fmt.Appendf(nil, `{"type":"message","chatroomId":%q,"message":%q,"ref":%q}`, room, text, ref)
}

// acked records an ack. Called with mu held.
func (s *Session) acked(m Msg) {
	if old, ok := s.pub.acked[m.Ref]; ok {
		if old.ID != m.ID {
			s.check.Note(m.ChatroomID, "message %s acknowledged as %d and as %d", m.Ref, old.ID, m.ID)
		}
		return
	}
	if p := s.pub.pending[m.Ref]; p != nil {
		delete(s.pub.pending, m.Ref)
		s.pub.acked[m.Ref] = Acked{Room: p.room, ID: m.ID}
		s.wake()
	}
}

// refused handles an error reply to a message: sent again in a while when the code allows
// it, given up (and noted) otherwise. Called with mu held.
func (s *Session) refused(m Msg) {
	p := s.pub.pending[m.Ref]
	if p == nil {
		s.errors[m.Code]++
		return
	}
	s.errors[m.Code]++
	switch m.Code {
	case "unavailable", "rate_limited":
		p.retryAt = time.Now().Add(200 * time.Millisecond)
	case "not_member":
		if slices.Contains(s.wanted, p.room) { // joined again after a reconnect: send it then
			p.retryAt = time.Now().Add(200 * time.Millisecond)
			return
		}
		fallthrough
	default:
		s.check.Note(p.room, "message %s refused: %s", m.Ref, m)
		delete(s.pub.pending, m.Ref)
	}
}

// Acked returns the session's acknowledged messages, by ref.
func (s *Session) Acked() map[string]Acked {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Acked, len(s.pub.acked))
	for k, v := range s.pub.acked {
		out[k] = v
	}
	return out
}

// PendingIn counts the messages to room not acknowledged yet ("" counts all).
func (s *Session) PendingIn(room string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.pub.pending {
		if room == "" || p.room == room {
			n++
		}
	}
	return n
}
