package gateway

import (
	"context"
	"time"

	"github.com/chathub/chathub/internal/protocol"
)

// page reads the limit events of a room just before id before (nil: the newest), for the
// history command and GET /history. A private room needs one of its two users.
func (g *Gateway) page(ctx context.Context, user, room string, before *int64, limit int) ([][]byte, *protocol.Error) {
	if protocol.IsPrivate(room) {
		if err := g.bridge.Access(ctx, user, room, false); err != nil {
			return nil, failure(g.log, "history", err)
		}
	}
	var b uint64
	if before != nil {
		if *before == 0 {
			return nil, nil
		}
		b = uint64(*before)
	}
	st, err := g.store.Before(ctx, room, b, limit)
	if err != nil {
		return nil, failure(g.log, "history", err)
	}
	out := make([][]byte, len(st))
	for i, s := range st {
		out[i] = protocol.WithID(s.Data, s.ID)
	}
	return out, nil
}

// onPrivate joins the local sessions of peer to a private room user opened; each receives
// an unsolicited joined reply.
func (g *Gateway) onPrivate(room, user, peer string) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.JoinTimeout)
	defer cancel()
	sessions, err := g.hub.SessionsOf(ctx, peer)
	if err != nil {
		return
	}
	for _, s := range sessions {
		c := g.conns.of(s)
		if c == nil || c.member(room) {
			continue
		}
		if e := c.join(ctx, room, joinArgs{private: true, peer: user}); e != nil {
			c.reply(protocol.EncodeError("", e))
		}
	}
}

func now() time.Time { return time.Now() }
