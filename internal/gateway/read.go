package gateway

import (
	"context"
	"sync"

	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/protocol"
)

// markRead moves the user's read marker of a room forward (never back) and answers with
// the marker's value; the user's other sessions, on every gateway, hear of a move through
// the markers bucket's watch (markerMoved). A marker beyond the room's newest event is
// taken as the newest: a marker names an event that exists.
func (c *conn) markRead(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	room := cmd.ChatroomID
	if e := c.member(ctx, room, "read"); e != nil {
		return e
	}
	id := uint64(*cmd.ID)
	if id > 0 {
		last, err := c.g.store.LastID(ctx, room)
		if err != nil {
			return c.failure("read marker", err)
		}
		id = min(id, last)
	}
	rctx, cancel := context.WithTimeout(ctx, c.g.cfg.JoinTimeout)
	defer cancel()
	var at uint64
	err := whileTransient(rctx, func(ctx context.Context) (err error) {
		at, _, err = c.g.markers.Advance(ctx, c.sess.User, room, c.sess.Conn, id)
		return err
	})
	if err != nil {
		return c.failure("read marker", err)
	}
	c.reply(protocol.Encode(protocol.Read{Type: protocol.TypeRead, Ref: cmd.Ref, ChatroomID: room, ID: at}))
	return nil
}

// markerMoved passes a marker's move to the user's local sessions but the connection that
// moved it (which has its answer).
func (g *Gateway) markerMoved(user, room, conn string, id uint64) {
	data := protocol.Encode(protocol.Read{Type: protocol.TypeRead, ChatroomID: room, ID: id})
	_ = g.hub.ToUser(user, conn, &hub.Frame{Data: data})
}

// listRooms answers the rooms command: the rooms of the user, each room where the user has a
// read marker with its unread count.
func (c *conn) listRooms(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	rooms := c.g.control.State().Rooms(c.sess.User)
	if c.admin {
		for i := range rooms {
			rooms[i].Moderator = true // chat_admin moderates every room
		}
	}
	rctx, cancel := context.WithTimeout(ctx, c.g.cfg.JoinTimeout)
	defer cancel()
	if err := c.g.unread(rctx, c.sess.User, rooms); err != nil {
		return c.failure("rooms", err)
	}
	c.reply(protocol.Encode(protocol.Rooms{Type: protocol.TypeRooms, Ref: cmd.Ref, Rooms: rooms}))
	return nil
}

// unreadReaders bounds the rooms whose unread counts are read at once, per rooms command.
const unreadReaders = 8

// unread sets Unread in the rooms where user has a marker: the message events of other
// users after it, counted up to protocol.MaxUnread. It costs one read of the user's markers,
// then per room with a marker one read of the room's newest id and, only where that is
// past the marker, a read of the room's events after it until MaxUnread are counted.
func (g *Gateway) unread(ctx context.Context, user string, rooms []protocol.RoomInfo) error {
	marks, err := g.markers.Of(ctx, user)
	if err != nil || len(marks) == 0 {
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, unreadReaders)
	for i := range rooms {
		at, ok := marks[rooms[i].ChatroomID]
		if !ok {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			n, err := g.countUnread(ctx, user, rooms[i].ChatroomID, at)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			rooms[i].Unread = &n
		})
	}
	wg.Wait()
	return first
}

// countUnread counts the message events of room by others than user after id at, up to
// protocol.MaxUnread.
func (g *Gateway) countUnread(ctx context.Context, user, room string, at uint64) (int, error) {
	last, err := g.store.LastID(ctx, room)
	if err != nil || last <= at {
		return 0, err
	}
	return g.store.Count(ctx, room, at, protocol.MaxUnread, func(data []byte) bool {
		typ, _ := protocol.Peek(data)
		return typ == protocol.TypeMessage && protocol.PeekUser(data) != user
	})
}
