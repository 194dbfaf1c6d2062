package chatclient

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/chathub/chathub/internal/poll"
	"github.com/coder/websocket"
)

// What a Session does when asked: commands, rooms, and ending its connection.

// Request sends cmd (with a fresh ref unless it has one) on the current connection and
// returns the reply. Joins and private commands are shown to the checker.
func (s *Session) Request(ctx context.Context, cmd map[string]any) (Msg, error) {
	s.mu.Lock()
	c := s.conn
	if _, ok := cmd["ref"]; !ok {
		s.refs++
		cmd["ref"] = "q" + strconv.Itoa(s.refs)
	}
	s.mu.Unlock()
	if c == nil {
		return Msg{}, fmt.Errorf("chatclient: %s/%s is not connected", s.cfg.User, s.cfg.Session)
	}
	if t, _ := cmd["type"].(string); t == "join" || t == "private" {
		b, err := json.Marshal(cmd)
		if err != nil {
			return Msg{}, err
		}
		s.check.Sent(b)
	}
	return c.Request(ctx, cmd)
}

// Join makes room one of the session's rooms and waits until it is joined on the current
// connection. With since, a room the session received events of before is joined since the
// last of them.
func (s *Session) Join(ctx context.Context, room string, since bool) error {
	s.mu.Lock()
	if !slices.Contains(s.wanted, room) {
		s.wanted = append(s.wanted, room)
	}
	c := s.conn
	var frame []byte
	if c != nil && !s.check.Joined(room) {
		frame = s.joinFrame(room, since)
	}
	s.mu.Unlock()
	if frame != nil {
		s.sendJoin(ctx, c, frame) // a connection that ends meanwhile is replaced, with the room's join
	}
	return poll.Until(ctx, 20*time.Millisecond, func() bool { return s.InRoom(room) })
}

// Leave takes room out of the session's rooms, once the messages posted to it are
// acknowledged, and waits for the left reply. When the connection ends first, the session
// gives the room up without one (the gateway takes it out after the grace period) and
// Leave returns the error.
func (s *Session) Leave(ctx context.Context, room string) error {
	err := poll.Until(ctx, 20*time.Millisecond, func() bool { return s.PendingIn(room) == 0 })
	s.mu.Lock()
	s.wanted = slices.DeleteFunc(s.wanted, func(r string) bool { return r == room })
	c := s.conn
	joined := s.check.Joined(room)
	s.mu.Unlock()
	if err != nil || c == nil || !joined {
		s.abandon(room)
		return fmt.Errorf("chatclient: %s/%s left %s without a left reply (connected %v, joined %v, %v)",
			s.cfg.User, s.cfg.Session, room, c != nil, joined, err)
	}
	m, err := c.Request(ctx, map[string]any{"type": "leave", "chatroomId": room})
	if err == nil && m.Type != "left" {
		err = fmt.Errorf("chatclient: leave %s: %s", room, m)
	}
	if err != nil {
		s.abandon(room)
	}
	return err
}

// abandon gives room up without a left reply.
func (s *Session) abandon(room string) {
	s.check.Abandon(room)
	s.mu.Lock()
	if s.gen > 0 {
		s.conns[s.gen-1].Left[room] = time.Now()
	}
	s.mu.Unlock()
}

// Private opens (or finds) the private room with peer and returns it; the room becomes one
// of the session's rooms.
// An answer of unavailable is tried again, as the protocol asks of clients, until ctx ends.
func (s *Session) Private(ctx context.Context, peer string) (string, error) {
	for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 2*time.Second) {
		m, err := s.Request(ctx, map[string]any{"type": "private", "userId": peer})
		if err != nil {
			return "", err
		}
		if m.Type == "joined" && m.Private {
			return m.ChatroomID, nil
		}
		if m.Type != "error" || m.Code != "unavailable" {
			return "", fmt.Errorf("chatclient: private with %s: %s", peer, m)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("chatclient: private with %s: %s (%w)", peer, m, ctx.Err())
		case <-time.After(backoff):
		}
	}
}

// PrivateWith returns the private room with peer the session is in, if any.
func (s *Session) PrivateWith(peer string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.privates[peer]
	return r, ok
}

// Cut drops the current connection without a close frame (a lost network): the session
// reconnects at once and rejoins with since, within its grace period.
func (s *Session) Cut() bool { return s.end("cut", -1, false) }

// Away drops the current connection without a close frame and stays away until Return.
func (s *Session) Away() bool { return s.end("away", -1, true) }

// Quit closes the current connection with 1000 (the session leaves every room) and stays
// away until Return, which joins the rooms again as first joins.
func (s *Session) Quit() bool {
	s.mu.Lock()
	s.fresh = true
	s.mu.Unlock()
	return s.end("quit", websocket.StatusNormalClosure, true)
}

func (s *Session) end(cause string, code websocket.StatusCode, hold bool) bool {
	s.mu.Lock()
	if hold && s.hold == nil {
		s.hold = make(chan struct{})
	}
	c, gen := s.conn, s.gen
	s.mu.Unlock()
	if c == nil {
		return false
	}
	s.closeWith(c, gen, cause, code)
	return true
}

// Return lets a session that is Away or has Quit connect again.
func (s *Session) Return() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
}

// Expired tells the checker that the session's grace period ran out while it was away:
// its next joins make presence events again.
func (s *Session) Expired() { s.check.Expired() }

// Takeover opens a second connection of the session; the gateway closes the current one
// with 4001, and the new one rejoins the rooms with since.
func (s *Session) Takeover() {
	select {
	case s.takeoverc <- struct{}{}:
	default:
	}
}

func (s *Session) waitHold(ctx context.Context) bool {
	s.mu.Lock()
	h := s.hold
	s.mu.Unlock()
	if h == nil {
		return true
	}
	select {
	case <-h:
		return true
	case <-ctx.Done():
		return false
	}
}

// InRoom reports whether room is joined on a live connection.
func (s *Session) InRoom(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil && s.check.Joined(room)
}
