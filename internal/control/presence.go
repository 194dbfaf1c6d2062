package control

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// ErrReplaced is returned for a connection whose session was taken over by a newer one.
var ErrReplaced = errors.New("control: session taken over by a newer connection")

// errSkip ends an update without writing: somebody else got there first.
var errSkip = errors.New("control: nothing to do")

// errBusy ends an update without writing: the key is held by a change in progress.
var errBusy = errors.New("control: key busy")

// presence keeps who is connected and who is in which room, over all gateways, in the
// presence bucket. Every decision that must happen once (the one join of a user, the one
// offline) is a compare-and-set, so two gateways racing cannot both make it.
type presence struct {
	nc      *nats.Conn
	bucket  bucket
	store   *history.Store
	gateway string
	run     string // this run of the gateway, recorded with each of its sessions
	grace   time.Duration
	log     *slog.Logger
	now     func() time.Time
}

// Takeover names the connection a new one replaced, if it was still connected.
type Takeover struct {
	GatewayID string
	Conn      string
}

// Connect records a new connection of a session. A session that was in its grace period,
// or connected elsewhere, continues: no presence event is emitted, and the rooms it counted
// in are kept for a grace period for it to join again. The first session of a user makes
// the user online.
func (p *presence) Connect(ctx context.Context, user, session, conn string) (*Takeover, error) {
	var took *Takeover
	_, err := update(ctx, p.bucket, sessionKey(user, session), func(cur *sessionRecord) (*sessionRecord, error) {
		next := &sessionRecord{UserID: user, SessionID: session, GatewayID: p.gateway, Run: p.run, Conn: conn}
		took = nil
		if cur != nil && cur.GraceUntil == 0 && openedAfter(cur.Conn, conn) {
			// A connection the client opened later holds the session: this one is an
			// attempt the client gave up on (its presence write was slow) and must not
			// take the live one over.
			return nil, ErrReplaced
		}
		if cur != nil {
			next.Rooms, next.Stale = cur.Rooms, cur.Rooms
			next.StaleUntil = p.now().Add(p.grace).UnixMilli()
			if cur.GraceUntil == 0 && cur.Conn != conn {
				took = &Takeover{GatewayID: cur.GatewayID, Conn: cur.Conn}
			}
		}
		return next, nil
	})
	if err != nil {
		return nil, err
	}
	return took, p.ensureUser(ctx, user, session)
}

// ensureUser adds a session to its user's record, announcing the user online if it is the
// first.
func (p *presence) ensureUser(ctx context.Context, user, session string) error {
	cur, err := update(ctx, p.bucket, userKey(user), func(cur *setRecord) (*setRecord, error) {
		if cur.has(session) {
			return nil, errSkip
		}
		next := &setRecord{}
		if cur != nil {
			next.Sessions = cur.Sessions
		}
		next.Sessions = with(next.Sessions, session)
		return next, nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err == nil && (cur == nil || len(cur.Sessions) == 0) {
		p.notify(protocol.TypeOnline, user)
	}
	return err
}

// Disconnect records the end of a connection. A session that left (close 1000) is taken
// out at once; any other end starts its grace period.
func (p *presence) Disconnect(ctx context.Context, user, session, conn string, left bool) error {
	if !left {
		return ignoreSkip(p.startGrace(ctx, user, session, conn))
	}
	cur, err := p.end(ctx, user, session, func(cur *sessionRecord) bool { return cur.Conn == conn })
	if err != nil {
		return ignoreSkip(err)
	}
	return p.cleanup(ctx, cur)
}

// startGrace starts the grace period of a session still held by conn and not in one yet.
func (p *presence) startGrace(ctx context.Context, user, session, conn string) error {
	_, err := update(ctx, p.bucket, sessionKey(user, session), func(cur *sessionRecord) (*sessionRecord, error) {
		if cur == nil || cur.Conn != conn || cur.GraceUntil != 0 {
			return nil, errSkip
		}
		next := *cur
		next.GraceUntil = p.now().Add(p.grace).UnixMilli()
		return &next, nil
	})
	return err
}

// end deletes a session's record if it is still as still wants it, and returns it: the one
// caller that deletes it then cleans up after the session (errSkip for everyone else).
func (p *presence) end(ctx context.Context, user, session string, still func(*sessionRecord) bool) (*sessionRecord, error) {
	return update(ctx, p.bucket, sessionKey(user, session), func(cur *sessionRecord) (*sessionRecord, error) {
		if cur == nil || !still(cur) {
			return nil, errSkip
		}
		return nil, nil
	})
}

// cleanup takes a session that is gone out of its rooms and its user's record, emitting
// the events. Only the caller that deleted the session record calls it, so they happen once.
func (p *presence) cleanup(ctx context.Context, rec *sessionRecord) error {
	var errs []error
	for _, room := range rec.Rooms {
		errs = append(errs, p.removeFromRoom(ctx, room, rec.UserID, rec.SessionID))
	}
	cur, err := update(ctx, p.bucket, userKey(rec.UserID), func(cur *setRecord) (*setRecord, error) {
		if !cur.has(rec.SessionID) {
			return nil, errSkip
		}
		next := &setRecord{Sessions: without(cur.Sessions, rec.SessionID)}
		if len(next.Sessions) == 0 {
			return nil, nil
		}
		return next, nil
	})
	if err == nil && len(cur.Sessions) == 1 {
		p.notify(protocol.TypeOffline, rec.UserID)
	}
	errs = append(errs, ignoreSkip(err))
	return errors.Join(errs...)
}

// notify tells every gateway that a user came online or went offline (not stored).
func (p *presence) notify(typ, user string) {
	ev := protocol.Event{Type: typ, UserID: user, UnixTime: p.now().Unix()}
	if err := p.nc.Publish(subject.Users, ev.Marshal()); err != nil {
		p.log.Warn("presence notice not sent", "type", typ, "user", user, "err", err)
	}
}

func ignoreSkip(err error) error {
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// openedAfter reports whether connection a was opened after connection b, as far as their
// ids tell: gateways name connections with UUIDv7, whose first 48 bits are the time of
// opening in milliseconds. Ids of any other form are not ordered.
func openedAfter(a, b string) bool {
	ua, errA := uuid.Parse(a)
	ub, errB := uuid.Parse(b)
	if errA != nil || errB != nil || ua.Version() != 7 || ub.Version() != 7 {
		return false
	}
	ta, tb := ua.Time(), ub.Time()
	return ta > tb
}
