package bridge

import (
	"context"
	"errors"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go"
)

// JoinRoom counts a session in a room over all gateways and stores the event it makes:
// join for the user's first session there, add for another, none for a session already
// counted (a reconnect). It returns the stored event's id, or 0 when there is none.
func (p *Presence) JoinRoom(ctx context.Context, user, session, conn, room string) (uint64, error) {
	_, err := update(ctx, p.kv, sessionKey(user, session), func(cur *sessionRecord) (*sessionRecord, error) {
		if cur == nil || cur.Conn != conn {
			return nil, ErrReplaced
		}
		next := *cur
		next.Rooms, next.Stale = with(cur.Rooms, room), without(cur.Stale, room)
		return &next, nil
	})
	if err != nil {
		return 0, err
	}
	typ := ""
	_, err = update(ctx, p.kv, memberKey(room, user), func(cur *setRecord) (*setRecord, error) {
		if cur.has(session) {
			return nil, errSkip
		}
		typ = protocol.TypeAdd
		next := &setRecord{Sessions: []string{session}}
		if cur == nil || len(cur.Sessions) == 0 {
			typ = protocol.TypeJoin
		} else {
			next.Sessions = with(cur.Sessions, session)
		}
		return next, nil
	})
	if errors.Is(err, errSkip) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return p.emit(ctx, room, typ, user, session)
}

// LeaveRoom takes a session out of a room and stores the event it makes: leave for the
// user's last session there, remove otherwise, none if it was not counted.
func (p *Presence) LeaveRoom(ctx context.Context, user, session, conn, room string) error {
	_, err := update(ctx, p.kv, sessionKey(user, session), func(cur *sessionRecord) (*sessionRecord, error) {
		if cur == nil || cur.Conn != conn {
			return nil, errSkip
		}
		next := *cur
		next.Rooms, next.Stale = without(cur.Rooms, room), without(cur.Stale, room)
		return &next, nil
	})
	if err := ignoreSkip(err); err != nil {
		return err
	}
	return p.removeFromRoom(ctx, room, user, session)
}

// removeFromRoom takes a session out of a room's member set and emits remove or leave.
func (p *Presence) removeFromRoom(ctx context.Context, room, user, session string) error {
	typ := ""
	_, err := update(ctx, p.kv, memberKey(room, user), func(cur *setRecord) (*setRecord, error) {
		if !cur.has(session) {
			return nil, errSkip
		}
		next := &setRecord{Sessions: without(cur.Sessions, session)}
		if len(next.Sessions) == 0 {
			typ = protocol.TypeLeave
			return nil, nil
		}
		typ = protocol.TypeRemove
		return next, nil
	})
	if err != nil {
		return ignoreSkip(err)
	}
	_, err = p.emit(ctx, room, typ, user, session)
	return err
}

// emit stores a presence event of a room.
func (p *Presence) emit(ctx context.Context, room, typ, user, session string) (uint64, error) {
	ev := protocol.Event{ChatroomID: room, Type: typ, UserID: user, SessionID: session, UnixTime: p.now().Unix()}
	id, _, err := p.store.Append(ctx, room, ev.Marshal(), "", Headers(typ, user, session))
	return id, err
}

// Headers are our own headers of a stored event, for operators reading the stream.
func Headers(typ, user, session string) nats.Header {
	h := nats.Header{}
	h.Set("Chat-Type", typ)
	h.Set("Chat-User", user)
	if session != "" {
		h.Set("Chat-Session", session)
	}
	return h
}
