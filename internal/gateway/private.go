package gateway

import (
	"context"

	"github.com/chathub/chathub/internal/protocol"
)

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
