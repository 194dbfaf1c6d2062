package gateway

import (
	"context"

	"github.com/chathub/chathub/internal/protocol"
)

// privateOpened asks the local connections of peer to join a private room user opened;
// each receives an unsolicited joined reply. It does not block: each connection's loop
// runs the join.
func (g *Gateway) privateOpened(room, user, peer string) {
	for _, c := range g.conns.ofUser(peer) {
		c.inbox.send(func(ctx context.Context, c *conn) {
			if c.rooms[room] {
				return
			}
			if e := c.join(ctx, room, joinArgs{private: true, peer: user}); e != nil {
				c.reply(protocol.EncodeError("", e))
			}
		})
	}
}
