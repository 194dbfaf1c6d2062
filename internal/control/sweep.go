package control

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// sweeper finds sessions that are gone — their grace period over, or their gateway's run
// dead — and takes them out of presence. Every gateway sweeps; the compare-and-set delete
// of the session record decides which one emits the events, so they are emitted once.
type sweeper struct {
	p       *Plane
	missing map[string]time.Time // gateway run → when this sweeper first missed its heartbeat
	// unbacked are room members without a session record that says so, and when this
	// sweeper first saw each (State.unbacked).
	unbacked map[memberEntry]time.Time
	// blindUntil is three heartbeats after this sweeper last failed to list the gateways, or
	// its gateway failed to beat.
	// After an outage (NATS down longer than a heartbeat's life, every heartbeat expired at
	// once) a missing heartbeat may only be one not yet put again: no gateway counts as dead
	// before this.
	blindUntil time.Time
}

func newSweeper(p *Plane) *sweeper {
	return &sweeper{p: p, missing: make(map[string]time.Time), unbacked: make(map[memberEntry]time.Time)}
}

// unbackedFor is how long a member must stay without a session record that says so before
// the sweeper takes it out: far longer than a leave takes between its two writes.
const unbackedFor = 10 * time.Second

// sweep looks at every session once.
func (sw *sweeper) sweep(ctx context.Context) {
	now := sw.p.cfg.Now()
	if failed := sw.p.beatFailed.Load(); failed != 0 {
		sw.blind(time.Unix(0, failed))
	}
	live, err := sw.p.liveRuns(ctx)
	if err != nil {
		sw.p.log.Warn("sweep: listing gateways failed", "err", err)
		sw.blind(now)
		return
	}
	due := sw.p.state.sessionsWhere(func(rec *sessionRecord) bool { return sw.due(rec, live, now) })
	sw.pass(ctx, now, live, due)
	sw.dropUnbacked(ctx, now)
	sw.settleOwed(ctx, now)
}

// settleOwed stores the events that member keys owe when the gateway that decided them
// seems dead (its mark is twice pendingFor old) and no later change came to store them.
func (sw *sweeper) settleOwed(ctx context.Context, now time.Time) {
	for _, m := range sw.p.state.owingSince(now.Add(-2 * pendingFor)) {
		rec, _, err := getLeader[setRecord](ctx, sw.p.presence.bucket, memberKey(m.room, m.user))
		if err != nil || rec == nil || rec.Owed == nil || now.Sub(time.Unix(0, rec.Pending)) < pendingFor {
			continue
		}
		if err := sw.p.settle(ctx, m.room, m.user, rec); err != nil {
			sw.p.log.Warn("sweep: storing an owed presence event failed", "room", m.room, "user", m.user, "err", err)
		}
	}
}

// dropUnbacked takes out of their rooms the members that stayed without a session record
// saying so for unbackedFor, storing their remove or leave (once: the member key's
// compare-and-set decides).
func (sw *sweeper) dropUnbacked(ctx context.Context, now time.Time) {
	seen := make(map[memberEntry]bool)
	for _, m := range sw.p.state.unbacked() {
		seen[m] = true
		first, ok := sw.unbacked[m]
		if !ok {
			sw.unbacked[m] = now
			continue
		}
		if now.Sub(first) < unbackedFor {
			continue
		}
		delete(sw.unbacked, m)
		// The copy may be behind: the session's record decides, read from the bucket's leader
		// (a direct get may be answered by a replica that lags, and an old record without
		// the room would take a member out that its session counts).
		rec, _, err := getLeader[sessionRecord](ctx, sw.p.presence.bucket, sessionKey(m.user, m.session))
		if err != nil || rec != nil && slices.Contains(rec.Rooms, m.room) {
			continue
		}
		if err := sw.p.removeFromRoom(ctx, m.room, m.user, m.session); err != nil {
			sw.p.log.Warn("sweep: taking an unbacked member out failed", "room", m.room, "user", m.user, "session", m.session, "err", err)
			continue
		}
		sw.p.log.Info("sweep: took out a member its session no longer counted", "room", m.room, "user", m.user, "session", m.session)
	}
	for m := range sw.unbacked {
		if !seen[m] {
			delete(sw.unbacked, m)
		}
	}
}

// pass looks at sessions recs, seen after the live runs were listed at now. Both may be
// out of date by the time a session is expired: expire checks again.
func (sw *sweeper) pass(ctx context.Context, now time.Time, live liveRuns, recs []sessionRecord) {
	for run := range sw.missing {
		if live.has(run) {
			delete(sw.missing, run)
		}
	}
	for _, rec := range recs {
		if !sw.due(&rec, live, now) {
			continue
		}
		if sw.deadline(&rec, live, now) > 0 {
			sw.expire(ctx, rec)
		} else {
			sw.dropStale(ctx, rec)
		}
	}
}

// due reports whether rec needs the sweeper at now: it stopped counting (its grace is
// over, or its gateway's run died long enough ago), or its stale rooms are due.
func (sw *sweeper) due(rec *sessionRecord, live liveRuns, now time.Time) bool {
	deadline := sw.deadline(rec, live, now)
	return deadline > 0 && now.UnixMilli() >= deadline ||
		deadline == 0 && len(rec.Stale) > 0 && now.UnixMilli() >= rec.StaleUntil
}

// deadline is when a session stops counting (unix ms), or 0 while it is held by a live run
// of a gateway. A dead run's sessions get the grace period from about when it died: its
// heartbeat expires three beats after the last one.
func (sw *sweeper) deadline(rec *sessionRecord, live liveRuns, now time.Time) int64 {
	if rec.GraceUntil > 0 {
		return rec.GraceUntil
	}
	if live.holds(rec) {
		return 0
	}
	key := rec.GatewayID + "/" + rec.Run
	first, ok := sw.missing[key]
	if !ok {
		first = now
		sw.missing[key] = now
	}
	wait := max(sw.p.cfg.Grace-3*sw.p.cfg.Heartbeat, 0)
	return max(first.Add(wait).UnixMilli(), sw.blindUntil.UnixMilli())
}

// blind makes the sweeper take no gateway for dead for three heartbeats from t (a failure
// seen at t), or longer if it was blind for longer already.
func (sw *sweeper) blind(t time.Time) {
	if until := t.Add(3 * sw.p.cfg.Heartbeat); until.After(sw.blindUntil) {
		sw.blindUntil = until
	}
}

// liveRuns maps each live gateway to its current run.
type liveRuns map[string]string

func (l liveRuns) has(key string) bool {
	for gw, run := range l {
		if gw+"/"+run == key {
			return true
		}
	}
	return false
}

// holds reports whether the session is held by a live run. A record of a gateway that did
// not record its run is held by whichever run of that gateway lives.
func (l liveRuns) holds(rec *sessionRecord) bool {
	run, ok := l[rec.GatewayID]
	return ok && (rec.Run == "" || rec.Run == run)
}

// liveRuns lists the gateways whose heartbeat has not expired, and this gateway's run.
func (p *Plane) liveRuns(ctx context.Context) (liveRuns, error) {
	keys, err := p.gateways.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	live := liveRuns{p.cfg.GatewayID: p.run}
	for k := range keys.Keys() {
		if k == p.cfg.GatewayID {
			continue
		}
		rec, err := p.gatewayRecord(ctx, k)
		if err != nil {
			return nil, err
		}
		if rec != nil {
			live[k] = rec.Run
		}
	}
	return live, nil
}

// gatewayRecord reads a gateway's heartbeat; nil when it has expired.
func (p *Plane) gatewayRecord(ctx context.Context, id string) (*gatewayRecord, error) {
	e, err := p.gateways.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec gatewayRecord
	if json.Unmarshal(e.Value(), &rec) != nil {
		return nil, nil
	}
	return &rec, nil
}

// expire deletes a gone session's record, if it is still as seen, and cleans up after it.
// A session held by a gateway's run is expired only once a fresh read of that gateway's
// heartbeat, made after the record was seen, shows the run dead: the list of live runs may
// be older than the record (a run that started after the list was made), and a run always
// beats before it records a session.
func (sw *sweeper) expire(ctx context.Context, seen sessionRecord) {
	if seen.GraceUntil == 0 {
		rec, err := sw.p.gatewayRecord(ctx, seen.GatewayID)
		if err != nil {
			sw.p.log.Warn("sweep: reading a heartbeat failed", "gateway", seen.GatewayID, "err", err)
			return
		}
		if rec != nil && (seen.Run == "" || rec.Run == seen.Run) {
			delete(sw.missing, seen.GatewayID+"/"+seen.Run)
			return
		}
	}
	cur, err := sw.p.end(ctx, seen.UserID, seen.SessionID, func(cur *sessionRecord) bool {
		return cur.Conn == seen.Conn && cur.GraceUntil == seen.GraceUntil && cur.GatewayID == seen.GatewayID
	})
	if err != nil {
		if !errors.Is(err, errSkip) {
			sw.p.log.Warn("sweep: expiring a session failed", "user", seen.UserID, "session", seen.SessionID, "err", err)
		}
		return
	}
	sw.p.log.Info("session expired", "user", seen.UserID, "session", seen.SessionID, "gateway", seen.GatewayID)
	if seen.GraceUntil == 0 {
		// Expired because its gateway's run seemed dead. If that gateway lives after all
		// (out of reach for longer than its heartbeat lasts), its connection must not go on
		// as if nothing happened, outside every room the others count it in: it is closed
		// with 1001, and the client reconnects and joins again with since.
		sw.p.kick(kickNotice{UserID: seen.UserID, SessionID: seen.SessionID, Conn: seen.Conn,
			Code: protocol.CloseGoingAway, Reason: reasonExpired}, seen.GatewayID)
	}
	if err := sw.p.cleanup(ctx, cur); err != nil {
		sw.p.log.Warn("sweep: cleanup failed", "user", seen.UserID, "session", seen.SessionID, "err", err)
	}
}

// dropStale takes a reconnected session out of the rooms it did not join again in time.
func (sw *sweeper) dropStale(ctx context.Context, seen sessionRecord) {
	now := sw.p.cfg.Now().UnixMilli()
	cur, err := update(ctx, sw.p.bucket, sessionKey(seen.UserID, seen.SessionID), func(cur *sessionRecord) (*sessionRecord, error) {
		if cur == nil || cur.Conn != seen.Conn || len(cur.Stale) == 0 || cur.StaleUntil > now {
			return nil, errSkip
		}
		next := *cur
		next.Rooms = slices.DeleteFunc(slices.Clone(cur.Rooms), func(r string) bool { return slices.Contains(cur.Stale, r) })
		next.Stale, next.StaleUntil = nil, 0
		return &next, nil
	})
	if err != nil {
		if !errors.Is(err, errSkip) {
			sw.p.log.Warn("sweep: dropping stale rooms failed", "user", seen.UserID, "err", err)
		}
		return
	}
	for _, room := range cur.Stale {
		if err := sw.p.removeFromRoom(ctx, room, cur.UserID, cur.SessionID); err != nil {
			sw.p.log.Warn("sweep: leaving a stale room failed", "room", room, "err", err)
		}
	}
}
