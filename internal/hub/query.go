package hub

import (
	"context"
	"slices"
)

// Broadcast queues f, an online or offline notice, for every local session. Like presence in
// a room it may wait to share a write (Config.Coalesce): a connect storm sends every
// session a notice per user.
func (h *Hub) Broadcast(f *Frame) error { return h.send(h.feedc, broadcastReq{f}) }

type broadcastReq struct{ f *Frame }

func (b broadcastReq) apply(h *Hub) {
	now, wait := h.now(), h.coalesce()
	for s := range h.sessions {
		if !h.queue(s, b.f, true, now, wait) {
			h.remove(s)
		}
	}
}

// SessionsOf returns the local sessions of a user.
func (h *Hub) SessionsOf(ctx context.Context, user string) ([]*Session, error) {
	req := sessionsReq{user, make(chan []*Session, 1)}
	return ask(ctx, h, req, req.reply)
}

type sessionsReq struct {
	user  string
	reply chan []*Session
}

func (q sessionsReq) apply(h *Hub) {
	q.reply <- slices.Clone(h.byUser[q.user])
}

// Stats counts what the hub holds.
type Stats struct {
	Sessions int
	Rooms    int
}

// Stats returns the hub's counts.
func (h *Hub) Stats(ctx context.Context) (Stats, error) {
	req := statsReq{make(chan Stats, 1)}
	return ask(ctx, h, req, req.reply)
}

type statsReq struct{ reply chan Stats }

func (q statsReq) apply(h *Hub) { q.reply <- Stats{Sessions: len(h.sessions), Rooms: len(h.rooms)} }
