package gateway

import (
	"context"
	"time"

	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/protocol"
)

// joinArgs are what a join asks for; private joins name the peer.
type joinArgs struct {
	ref      string
	since    *int64
	limit    *int64
	private  bool
	peer     string
	readUpTo uint64 // the user's read marker of the room
	rules    control.Rules
}

// join makes the session a member of room: it is counted in the room over all gateways
// (storing its join or add event), the hub starts holding the room's live events for it,
// and the joined reply — history up to and including its own event — is queued before
// them. A failed first join leaves nothing behind.
func (c *conn) join(ctx context.Context, room string, a joinArgs) *protocol.Error {
	g := c.g
	ctx, cancel := context.WithTimeout(ctx, g.cfg.JoinTimeout)
	defer cancel()
	was := c.rooms.Has(room)
	if max := g.cfg.Limits.MaxRooms; max > 0 && !was && len(c.rooms) >= max {
		return protocol.Errorf(protocol.CodeForbidden, "a session may be in at most %d rooms; leave one first", max)
	}
	if !protocol.IsPrivate(room) && !c.mayCreate(room) {
		return errRoomsLimited
	}
	// The user's read marker of the room is read while the join goes on: one round trip
	// less to wait for.
	var readUpTo uint64
	marker := make(chan error, 1)
	go func() {
		marker <- whileTransient(ctx, func(ctx context.Context) (err error) {
			readUpTo, err = g.markers.Get(ctx, c.sess.User, room)
			return err
		})
	}()
	err := whileTransient(ctx, func(ctx context.Context) error { return g.control.Access(ctx, c.sess.User, room, true) })
	if err != nil {
		return c.failure("join", err)
	}
	a.rules = c.rules(room)
	if protocol.IsPrivate(room) && a.peer == "" {
		a.private, a.peer = true, g.control.State().Peer(room, c.sess.User)
	}
	stored, enter, err := g.control.JoinRoom(ctx, c.sess.User, c.sess.ID, c.sess.Conn, room)
	if err != nil {
		return c.failure("join", err)
	}
	if err := <-marker; err != nil {
		c.undoJoin(room, was, stored)
		return c.failure("join", err)
	}
	a.readUpTo = readUpTo
	// The reply ends at the session's own join/add: the one this join stored, or, for a
	// session counted already (an earlier connection stored its join or add and ended
	// before its reply, or was taken over), the one that counted it, unless the client has
	// it already (a since at or after it). What came after it follows as the reply's tail,
	// when that is short (assemble).
	own, counted := stored, uint64(0)
	if stored == 0 && !was && (a.since == nil || *a.since < 0 || enter > uint64(*a.since)) {
		counted = enter
	}
	upto, err := g.joinPoint(ctx, room, max(own, counted), a.since)
	if err != nil {
		c.undoJoin(room, was, stored)
		return c.failure("join", err)
	}
	t, err := g.hub.Join(ctx, c.sess, room, upto)
	if err != nil {
		c.undoJoin(room, was, stored)
		return c.failure("join", err)
	}
	start := time.Now()
	r, err := g.assemble(ctx, room, t, own, counted, a)
	since(g.metrics.historyLat, start)
	if err != nil {
		c.undoJoin(room, was, stored)
		return c.failure("join", err)
	}
	c.rooms.Add(room)
	r.Session, r.Room, r.Gen = c.sess, room, t.Gen
	if err := g.hub.Joined(r); err != nil {
		return c.failure("join", err)
	}
	return nil
}

// joinPoint is the id this gateway's room must have reached before the session joins it:
// its own event, and, on a resume, the since it brings (up to the room's newest stored
// event: a since beyond it is answered with nothing). A session coming from a gateway
// that was ahead must not be handed again, live, the events between where this
// gateway's room stands and its since (the randomized checker saw a hundred of them at
// once after a reconnect).
func (g *Gateway) joinPoint(ctx context.Context, room string, own uint64, since *int64) (uint64, error) {
	if since == nil || *since <= 0 || uint64(*since) <= own {
		return own, nil
	}
	last, err := g.store.LastID(ctx, room)
	if err != nil {
		return 0, err
	}
	return max(own, min(uint64(*since), last)), nil
}

// mayCreate takes one from the user's allowance of new rooms when room does not exist yet
// (public or private), reporting false when the allowance is spent.
func (c *conn) mayCreate(room string) bool {
	return c.g.control.State().HasRoom(room) || c.g.limits.roomCreates.allow(c.sess.User)
}

// undoJoin takes back a first join of this connection that failed half way (JoinRoom
// returned own): a session that counted in the room before this connection stays counted.
func (c *conn) undoJoin(room string, was bool, own uint64) {
	if was {
		return
	}
	c.g.hub.Leave(c.sess, room, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.g.control.UndoJoin(ctx, c.sess.User, c.sess.ID, c.sess.Conn, room, own); err != nil {
		c.log().Warn("presence not undone after a failed join", "room", room, "err", err)
	}
}

// assemble builds the joined reply from the ticket's window, reading the stream only for
// what the window does not hold. The reply's events end at the session's own event (own),
// or at the ticket's end when it has none; events after it up to the ticket's end follow
// as the tail, then the live ones. A session counted already ends its reply at the event
// that counted it (counted) when at most a window's worth of the room's events came after
// it; after more, at the ticket's end, so that a rejoin does not replay a long history as
// live events.
func (g *Gateway) assemble(ctx context.Context, room string, t hub.Ticket, own, counted uint64, a joinArgs) (hub.Reply, error) {
	v := view{g: g, room: room, t: t}
	end := t.Upto
	if own != 0 {
		end = own
	}
	var r hub.Reply
	var tail []hub.Event
	tailRead := false
	if own == 0 && counted != 0 && counted <= t.Upto {
		evs, more, err := v.rng(ctx, counted, t.Upto, g.windowSize())
		if err != nil {
			return r, err
		}
		if !more {
			end, tail, tailRead = counted, evs, true
		}
	}
	evs, recovered, err := v.history(ctx, end, a, &r)
	if err != nil {
		return r, err
	}
	if !tailRead {
		if tail, _, err = v.rng(ctx, end, t.Upto, 1<<20); err != nil {
			return r, err
		}
	}
	head := protocol.Joined{Type: protocol.TypeJoined, Ref: a.ref, ChatroomID: room,
		Private: a.private, Peer: a.peer, Recovered: recovered, ReadUpTo: a.readUpTo,
		Mode: a.rules.Mode, Moderator: a.rules.Moderator}
	r.Reply = &hub.Frame{Data: protocol.EncodeEvents(head, datas(evs))}
	for _, ev := range tail {
		r.Tail = append(r.Tail, ev.Frame)
	}
	return r, nil
}

// history picks the events of a joined reply: the latest limit, or every one after since
// (the latest limit and recovered=false when more are missing than limit, or when the
// stream no longer holds all of them).
func (v view) history(ctx context.Context, end uint64, a joinArgs, r *hub.Reply) ([]hub.Event, bool, error) {
	if a.since == nil {
		evs, err := v.last(ctx, limitOr(a.limit, protocol.DefaultLimit), end, r)
		return evs, true, err
	}
	since, limit := uint64(*a.since), limitOr(a.limit, protocol.DefaultSinceLimit)
	evs, more, err := v.rng(ctx, since, end, limit)
	if err != nil {
		return nil, false, err
	}
	if !more && since < v.t.From {
		covered, err := v.covered(ctx, since)
		if err != nil {
			return nil, false, err
		}
		more = !covered
	}
	if more {
		evs, err = v.last(ctx, limit, end, r)
		return evs, false, err
	}
	return evs, true, nil
}

// covered reports whether the stream still holds every event of the room after since.
// Events leave a room oldest first (per-room depth, age), so nothing after since is gone
// when since is at or after the room's oldest stored event, or when neither limit can
// have removed any.
func (v view) covered(ctx context.Context, since uint64) (bool, error) {
	info, err := v.g.store.Info(ctx, v.room)
	if err != nil {
		return false, err
	}
	switch {
	case info.Count == 0:
		return since+1 >= info.StreamFirst, nil
	case since+1 >= info.First:
		return true, nil
	}
	return since+1 >= info.StreamFirst && int64(info.Count) < info.Depth, nil
}

func limitOr(l *int64, def int) int {
	if l == nil {
		return def
	}
	return int(*l)
}

func datas(evs []hub.Event) [][]byte {
	out := make([][]byte, len(evs))
	for i, ev := range evs {
		out[i] = ev.Frame.Data
	}
	return out
}

// windowSize is how many recent events the hub keeps per room.
func (g *Gateway) windowSize() int {
	if g.cfg.Window > 0 {
		return g.cfg.Window
	}
	return hub.DefaultWindow
}
