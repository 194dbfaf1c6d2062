package control

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/retry"
	"github.com/google/uuid"
)

// JoinRoom counts a session in a room over all gateways and stores the event it makes:
// join for the user's first session there, add for another, none for a session already
// counted (a reconnect). It returns the stored event's id, or 0 when there is none, and the
// id of the session's own join/add in the room: the stored one, or the one that counted it
// before (0 when not known).
func (p *presence) JoinRoom(ctx context.Context, user, session, conn, room string) (stored, enter uint64, err error) {
	_, err = update(ctx, p.bucket, sessionKey(user, session), func(cur *sessionRecord) (*sessionRecord, error) {
		if cur == nil || cur.Conn != conn {
			return nil, ErrReplaced
		}
		next := *cur
		next.Rooms, next.Stale = with(cur.Rooms, room), without(cur.Stale, room)
		return &next, nil
	})
	if err != nil {
		return 0, 0, err
	}
	stored, err = p.changeMembers(ctx, room, user, session, func(cur *setRecord) ([]string, string) {
		switch {
		case cur.has(session):
			enter = cur.Enters[session]
			return nil, ""
		case cur == nil || len(cur.Sessions) == 0:
			return []string{session}, protocol.TypeJoin
		}
		return with(cur.Sessions, session), protocol.TypeAdd
	})
	if stored != 0 {
		enter = stored
	}
	return stored, enter, err
}

// LeaveRoom takes a session out of a room and stores the event it makes: leave for the
// user's last session there, remove otherwise, none if it was not counted. A connection
// whose session was taken over changes nothing: the room is the newer connection's to leave.
func (p *presence) LeaveRoom(ctx context.Context, user, session, conn, room string) error {
	_, err := update(ctx, p.bucket, sessionKey(user, session), func(cur *sessionRecord) (*sessionRecord, error) {
		if cur != nil && cur.Conn != conn {
			return nil, ErrReplaced
		}
		if cur == nil {
			return nil, errSkip
		}
		next := *cur
		next.Rooms, next.Stale = without(cur.Rooms, room), without(cur.Stale, room)
		return &next, nil
	})
	if errors.Is(err, ErrReplaced) {
		return nil
	}
	if err := ignoreSkip(err); err != nil {
		return err
	}
	return p.removeFromRoom(ctx, room, user, session)
}

// UndoJoin takes back a join that failed after JoinRoom returned own. A join that counted
// the session (own, its event, is not 0) is undone by leaving the room. A join that found
// the session counted already, from an earlier connection within its grace period, leaves
// it as it was: the room goes back among the stale ones, which the sweeper takes it out of
// if no join of it succeeds within a grace period of this try. (A resume that failed on a stream outage used to store
// a remove, and its retry an add: an exit and an entry of a session that never left.)
func (p *presence) UndoJoin(ctx context.Context, user, session, conn, room string, own uint64) error {
	if own != 0 {
		return p.LeaveRoom(ctx, user, session, conn, room)
	}
	_, err := update(ctx, p.bucket, sessionKey(user, session), func(cur *sessionRecord) (*sessionRecord, error) {
		if cur == nil || cur.Conn != conn || !slices.Contains(cur.Rooms, room) || slices.Contains(cur.Stale, room) {
			return nil, errSkip
		}
		next := *cur
		next.Stale = with(cur.Stale, room)
		// A client that is trying to join again gets a grace period from its last try: a
		// NATS outage longer than the grace must not take a connected session out of
		// rooms it keeps asking for (the randomized checker saw exactly that).
		next.StaleUntil = max(next.StaleUntil, p.now().Add(p.grace).UnixMilli())
		return &next, nil
	})
	return ignoreSkip(err)
}

// removeFromRoom takes a session out of a room's member set and emits remove or leave.
func (p *presence) removeFromRoom(ctx context.Context, room, user, session string) error {
	_, err := p.changeMembers(ctx, room, user, session, func(cur *setRecord) ([]string, string) {
		if !cur.has(session) {
			return nil, ""
		}
		if rest := without(cur.Sessions, session); len(rest) > 0 {
			return rest, protocol.TypeRemove
		}
		return nil, protocol.TypeLeave
	})
	return err
}

// pendingFor is how long a pending mark holds: a gateway that died between deciding and
// storing the event does not block the room's member key for longer.
const pendingFor = 5 * time.Second

// changeMembers changes the sessions of a user in a room and stores the event the change
// makes (decide returns the new sessions and the event type, "" for no change). Events are
// stored in the order of the changes: the member key carries a pending mark from the
// decision until the event is stored, and the next change, on any gateway, waits for it.
// Without it a racing add could be stored before the join it follows.
func (p *presence) changeMembers(ctx context.Context, room, user, session string, decide func(cur *setRecord) ([]string, string)) (uint64, error) {
	key, mark, typ := memberKey(room, user), p.now().UnixNano(), ""
	owed := &owedEvent{Session: session, Decision: uuid.NewString(), UnixTime: p.now().Unix()}
	for {
		var stale *setRecord
		_, err := update(ctx, p.bucket, key, func(cur *setRecord) (*setRecord, error) {
			if cur != nil && cur.Pending != 0 {
				if p.now().Sub(time.Unix(0, cur.Pending)) < pendingFor {
					return nil, errBusy
				}
				if cur.Owed != nil {
					stale = cur
					return nil, errBusy // its owner died: store its event first
				}
			}
			var sessions []string
			if sessions, typ = decide(cur); typ == "" {
				return nil, errSkip
			}
			owed.Type = typ
			return &setRecord{Sessions: sessions, Pending: mark, Owed: owed, Enters: entersOf(cur, sessions)}, nil
		})
		if errors.Is(err, errSkip) {
			return 0, nil
		}
		if !errors.Is(err, errBusy) {
			if err != nil {
				return 0, err
			}
			break
		}
		if stale != nil {
			if err := p.settle(ctx, room, user, stale); err != nil {
				return 0, err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	id, err := p.emit(ctx, room, user, owed)
	p.release(ctx, key, mark, owed, id)
	return id, err
}

// settle stores the event a member key owes (its change's gateway died before it was known
// to be stored) and clears the key's mark. The event's message id names its decision, so it
// is stored once even if it was stored before.
func (p *presence) settle(ctx context.Context, room, user string, cur *setRecord) error {
	id, err := p.emit(ctx, room, user, cur.Owed)
	if err != nil {
		return err
	}
	p.release(ctx, memberKey(room, user), cur.Pending, cur.Owed, id)
	p.log.Info("presence: stored the event of a change whose gateway died", "room", room, "user", user,
		"type", cur.Owed.Type, "session", cur.Owed.Session)
	return nil
}

// release clears the pending mark of a member key, deleting the key if no session is left,
// and records the id of the event o (stored as id; 0: not stored) when it is an enter.
func (p *presence) release(ctx context.Context, key string, mark int64, o *owedEvent, id uint64) {
	_, err := update(ctx, p.bucket, key, func(cur *setRecord) (*setRecord, error) {
		if cur == nil || cur.Pending != mark {
			return nil, errSkip
		}
		if len(cur.Sessions) == 0 {
			return nil, nil
		}
		next := &setRecord{Sessions: cur.Sessions, Enters: entersOf(cur, cur.Sessions)}
		if id != 0 && (o.Type == protocol.TypeJoin || o.Type == protocol.TypeAdd) && cur.has(o.Session) {
			if next.Enters == nil {
				next.Enters = make(map[string]uint64, 1)
			}
			next.Enters[o.Session] = id
		}
		return next, nil
	})
	if ignoreSkip(err) != nil {
		p.log.Warn("presence: pending mark not cleared", "key", key, "err", err)
	}
}

// emit stores a presence event of a room.
func (p *presence) emit(ctx context.Context, room, user string, o *owedEvent) (uint64, error) {
	typ, session := o.Type, o.Session
	ev := protocol.Event{ChatroomID: room, Type: typ, UserID: user, SessionID: session, UnixTime: o.UnixTime}
	// The change is decided: its event must be stored, once. Its message id names the
	// decision, so an append that timed out (and may have been stored) is tried again until
	// the stream answers or ctx ends, and stored at most once.
	msgID := "p:" + typ + ":" + room + ":" + user + ":" + session + ":" + o.Decision
	var id uint64
	err := retry.Do(ctx, retry.Fast, history.IsOutage, func(ctx context.Context) (err error) {
		id, _, err = p.store.Append(ctx, room, ev.Marshal(), msgID, history.Headers(typ, user, session))
		return err
	}, func(err error, _ time.Duration) {
		p.log.Warn("presence event not stored yet, trying again", "room", room, "type", typ, "user", user, "err", err)
	})
	return id, err
}
