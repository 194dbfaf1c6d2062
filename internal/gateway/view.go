package gateway

import (
	"context"
	"sort"

	"github.com/chathub/chathub/internal/bridge"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
)

// view reads a room's events through a join ticket: from the hub's window where it holds
// them (every event with t.From < id <= t.Upto), from the stream for anything older.
type view struct {
	g    *Gateway
	room string
	t    hub.Ticket
}

// inWindow returns the window's events with lo < id <= hi.
func (v view) inWindow(lo, hi uint64) []hub.Event {
	w := v.t.Window
	i := sort.Search(len(w), func(i int) bool { return w[i].ID > lo })
	j := sort.Search(len(w), func(i int) bool { return w[i].ID > hi })
	if i >= j {
		return nil
	}
	return w[i:j]
}

// rng returns the room's events with lo < id <= hi, the first limit of them, and whether
// there were more.
func (v view) rng(ctx context.Context, lo, hi uint64, limit int) ([]hub.Event, bool, error) {
	if lo >= hi {
		return nil, false, nil
	}
	var out []hub.Event
	if lo < v.t.From {
		st, more, err := v.g.store.After(ctx, v.room, lo, min(hi, v.t.From), limit)
		if err != nil {
			return nil, false, err
		}
		out = events(st)
		if more {
			return out, true, nil
		}
	}
	out = append(out, v.inWindow(max(lo, v.t.From), hi)...)
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}

// last returns the room's latest n events with id <= hi. Events it had to read from the
// stream are offered back to the hub's window through r.
func (v view) last(ctx context.Context, n int, hi uint64, r *hub.Reply) ([]hub.Event, error) {
	w := v.inWindow(v.t.From, hi)
	if len(w) >= n || v.t.From == 0 {
		return w[len(w)-min(n, len(w)):], nil
	}
	need := n - len(w)
	if hi == 0 {
		return nil, nil
	}
	// hi may lie before the window (the session's own event, stored before the room's
	// feed started here): nothing after hi may be read, nor offered to the window.
	upto := min(hi, v.t.From)
	st, err := v.g.store.Latest(ctx, v.room, need, upto)
	if err != nil {
		return nil, err
	}
	older := events(st)
	if upto == v.t.From {
		r.Older, r.OlderFrom = older, 0
		if len(st) == need {
			r.OlderFrom = st[0].ID - 1
		}
	}
	return append(older, w...), nil
}

func events(st []history.Stored) []hub.Event {
	out := make([]hub.Event, len(st))
	for i, s := range st {
		out[i] = bridge.Event(s)
	}
	return out
}
