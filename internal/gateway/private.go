package gateway

import (
	"context"

	"github.com/chathub/chathub/internal/protocol"
)

// privateOpened asks the local connections of peer to join a private room user opened;
// each receives an unsolicited joined reply, unless others' private rooms already fill
// half of its room limit. It does not block: each connection's loop runs the join.
func (g *Gateway) privateOpened(room, user, peer string) {
	for _, c := range g.conns.ofUser(peer) {
		c.ask(func(ctx context.Context, c *conn) {
			if c.rooms.Has(room) {
				return
			}
			// Others' private rooms may take at most half of a session's rooms: 200 users
			// opening one each with someone must not keep them out of the lobby. Beyond,
			// the room is listed by rooms and the user joins it when they choose.
			if max := c.g.cfg.Limits.MaxRooms; max > 0 && len(c.rooms) >= max/2 {
				return
			}
			if e := c.join(ctx, room, joinArgs{private: true, peer: user}); e != nil {
				c.reply(protocol.EncodeError("", e))
			}
		})
	}
}
