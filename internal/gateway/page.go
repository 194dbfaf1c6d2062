package gateway

import (
	"context"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
)

// stored reads the limit events of a room just before id before (nil: the newest), oldest
// first, for the history command and GET /history. A private room needs one of its two
// users.
func (g *Gateway) stored(ctx context.Context, user, room string, before *int64, limit int) ([]history.Stored, *protocol.Error) {
	// Private and members-mode rooms only for their members; no room for a user banned
	// from it.
	if err := g.control.Access(ctx, user, room, false); err != nil {
		return nil, failure(g.log, "history", err)
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
	return st, nil
}
