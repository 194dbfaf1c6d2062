package clustertest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// publisher is the state of a client's posting; guarded by Client.mu.
type publisher struct {
	n       int
	pending map[string]*pendingMsg // by ref
	acked   map[string]uint64      // ref to id
	sent    int
	resent  int
}

type pendingMsg struct {
	text    string
	retryAt time.Time // zero: sent and waiting; else: send again at or after
}

func (c *Client) acked(f Frame) {
	if old, ok := c.pub.acked[f.Ref]; ok {
		if old != f.ID {
			c.note("%s: ref %s acked as %d and as %d", c.cfg.User, f.Ref, old, f.ID)
		}
		return
	}
	if _, ok := c.pub.pending[f.Ref]; ok {
		delete(c.pub.pending, f.Ref)
		c.pub.acked[f.Ref] = f.ID
	}
}

// publish posts to cfg.Publish at cfg.Rate while publishing is on and the room is joined on
// this connection, sending again (same ref) what was refused or not acknowledged before a
// reconnect.
func (c *Client) publish(ctx context.Context, conn *websocket.Conn) {
	c.mu.Lock()
	for _, p := range c.pub.pending { // sent on an earlier connection: resend
		p.retryAt = time.Now()
	}
	c.mu.Unlock()
	tick := time.NewTicker(time.Duration(float64(time.Second) / c.cfg.Rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, b := range c.toSend() {
			if write(ctx, conn, b) != nil {
				return
			}
		}
	}
}

// toSend returns the frames of one tick: the due resends, then one new message.
func (c *Client) toSend() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.cfg.Publish
	if rl := c.rooms[room]; rl == nil || !rl.joined {
		return nil
	}
	var out [][]byte
	now := time.Now()
	for ref, p := range c.pub.pending {
		if !p.retryAt.IsZero() && !now.Before(p.retryAt) {
			p.retryAt = time.Time{}
			c.pub.resent++
			out = append(out, msgFrame(room, ref, p.text))
		}
	}
	if c.publishing && len(c.pub.pending) < c.cfg.InFlight {
		c.pub.n++
		ref := c.cfg.User + "-" + strconv.Itoa(c.pub.n)
		text := ref + " " + strconv.FormatInt(now.UnixNano(), 10)
		c.pub.pending[ref] = &pendingMsg{text: text}
		c.pub.sent++
		out = append(out, msgFrame(room, ref, text))
	}
	return out
}

func msgFrame(room, ref, text string) []byte {
	return fmt.Appendf(nil, `{"type":"message","chatroomId":%q,"message":%q,"ref":%q}`, room, text, ref)
}

// SetPublishing switches posting of new messages on or off; resends go on either way.
func (c *Client) SetPublishing(on bool) {
	c.mu.Lock()
	c.publishing = on
	c.mu.Unlock()
}
