package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/protocol"
)

// typingEvery is the least time between two typing notices of one user in one room, from
// one gateway.
const typingEvery = 2 * time.Second

// typingGate coalesces typing notices per user and room on this gateway: the first of a
// burst goes out, the rest within typingEvery are dropped. A mutex over a map, no I/O.
type typingGate struct {
	now func() time.Time // the clock

	mu   sync.Mutex
	last map[string]time.Time // user\x00room → when its last notice went out
}

// newTypingGate makes a gate on the clock now (nil: time.Now).
func newTypingGate(now func() time.Time) *typingGate {
	if now == nil {
		now = time.Now
	}
	return &typingGate{now: now, last: make(map[string]time.Time)}
}

// allow reports whether a notice of user in room may go out now, and if so records it.
func (t *typingGate) allow(user, room string) bool {
	now := t.now()
	k := user + "\x00" + room
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[k]; ok && now.Sub(last) < typingEvery {
		return false
	}
	if len(t.last) >= 4096 {
		for k, last := range t.last {
			if now.Sub(last) >= typingEvery {
				delete(t.last, k)
			}
		}
	}
	t.last[k] = now
	return true
}

// typing tells the room's other members, on every gateway, that the user is typing: no
// reply, nothing stored, best effort.
func (c *conn) typing(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	room := cmd.ChatroomID
	if e := c.member(ctx, room, "typing"); e != nil {
		return e
	}
	if !c.g.typing.allow(c.sess.User, room) {
		return nil
	}
	if err := c.g.feeds.Typing(room, c.sess.User); err != nil {
		c.log().Debug("typing notice not sent", "room", room, "err", err)
	}
	return nil
}
