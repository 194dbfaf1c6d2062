package bridge

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// sweeper finds sessions that are gone — their grace period over, or their gateway dead —
// and takes them out of presence. Every gateway sweeps; the compare-and-set delete of the
// session record decides which one emits the events, so they are emitted once.
type sweeper struct {
	b       *Bridge
	missing map[string]time.Time // gateway → when this sweeper first missed its heartbeat
	// blindUntil is three heartbeats after this sweeper last failed to list the gateways.
	// After an outage (NATS down longer than a heartbeat's life, every heartbeat expired at
	// once) a missing heartbeat may only be one not yet put again: no gateway counts as dead
	// before this.
	blindUntil time.Time
}

func newSweeper(b *Bridge) *sweeper { return &sweeper{b: b, missing: make(map[string]time.Time)} }

func (sw *sweeper) sweep(ctx context.Context) {
	live, err := sw.liveGateways(ctx)
	if err != nil {
		sw.b.log.Warn("sweep: listing gateways failed", "err", err)
		sw.blindUntil = time.Now().Add(3 * sw.b.cfg.Heartbeat)
		return
	}
	now := time.Now()
	for gw := range sw.missing {
		if live[gw] {
			delete(sw.missing, gw)
		}
	}
	for _, rec := range sw.b.state.sessionList() {
		deadline := sw.deadline(&rec, live, now)
		switch {
		case deadline > 0 && now.UnixMilli() >= deadline:
			sw.expire(ctx, rec)
		case deadline == 0 && len(rec.Stale) > 0 && now.UnixMilli() >= rec.StaleUntil:
			sw.dropStale(ctx, rec)
		}
	}
}

// deadline is when a session stops counting (unix ms), or 0 while it is connected to a live
// gateway. A dead gateway's sessions get the grace period from about when it died: its
// heartbeat expires three beats after the last one.
func (sw *sweeper) deadline(rec *sessionRecord, live map[string]bool, now time.Time) int64 {
	if rec.GraceUntil > 0 {
		return rec.GraceUntil
	}
	if rec.GatewayID == sw.b.cfg.GatewayID || live[rec.GatewayID] {
		return 0
	}
	first, ok := sw.missing[rec.GatewayID]
	if !ok {
		first = now
		sw.missing[rec.GatewayID] = now
	}
	wait := max(sw.b.cfg.Grace-3*sw.b.cfg.Heartbeat, 0)
	return max(first.Add(wait).UnixMilli(), sw.blindUntil.UnixMilli())
}

func (sw *sweeper) liveGateways(ctx context.Context) (map[string]bool, error) {
	keys, err := sw.b.gateways.Keys(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, err
	}
	live := make(map[string]bool, len(keys)+1)
	for _, k := range keys {
		live[k] = true
	}
	live[sw.b.cfg.GatewayID] = true
	return live, nil
}

// expire deletes a gone session's record, if it is still as seen, and cleans up after it.
func (sw *sweeper) expire(ctx context.Context, seen sessionRecord) {
	cur, err := sw.b.Presence.end(ctx, seen.UserID, seen.SessionID, func(cur *sessionRecord) bool {
		return cur.Conn == seen.Conn && cur.GraceUntil == seen.GraceUntil && cur.GatewayID == seen.GatewayID
	})
	if err != nil {
		if !errors.Is(err, errSkip) {
			sw.b.log.Warn("sweep: expiring a session failed", "user", seen.UserID, "session", seen.SessionID, "err", err)
		}
		return
	}
	sw.b.log.Info("session expired", "user", seen.UserID, "session", seen.SessionID, "gateway", seen.GatewayID)
	if err := sw.b.Presence.cleanup(ctx, cur); err != nil {
		sw.b.log.Warn("sweep: cleanup failed", "user", seen.UserID, "session", seen.SessionID, "err", err)
	}
}

// dropStale takes a reconnected session out of the rooms it did not join again in time.
func (sw *sweeper) dropStale(ctx context.Context, seen sessionRecord) {
	now := time.Now().UnixMilli()
	cur, err := update(ctx, sw.b.Presence.bucket, sessionKey(seen.UserID, seen.SessionID), func(cur *sessionRecord) (*sessionRecord, error) {
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
			sw.b.log.Warn("sweep: dropping stale rooms failed", "user", seen.UserID, "err", err)
		}
		return
	}
	for _, room := range cur.Stale {
		if err := sw.b.Presence.removeFromRoom(ctx, room, cur.UserID, cur.SessionID); err != nil {
			sw.b.log.Warn("sweep: leaving a stale room failed", "room", room, "err", err)
		}
	}
}
