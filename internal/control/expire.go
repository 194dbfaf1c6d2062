package control

import (
	"context"
	"time"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// expireRooms removes the records of public rooms that nobody is in and where nothing was
// stored for RoomExpiry: they leave the rooms list and every gateway's memory; their
// history stays in the stream until its limits drop it, and a join makes the room again.
// Every gateway looks; the compare-and-set delete makes one of them do it. Private rooms
// never expire: their record is their membership.
func (p *Plane) expireRooms(ctx context.Context) {
	cutoff := p.cfg.Now().Add(-p.cfg.RoomExpiry)
	for _, room := range p.state.idleRooms(cutoff) {
		last, err := p.store.LastTime(ctx, room)
		if err != nil {
			p.log.Warn("room expiry: reading the last event failed", "room", room, "err", err)
			return
		}
		if last.After(cutoff) {
			continue
		}
		e, err := p.rooms.Get(ctx, room)
		if err != nil || p.state.present(room) {
			continue // gone already, or someone came in
		}
		if err := p.rooms.Delete(ctx, room, jetstream.LastRevision(e.Revision())); err == nil {
			p.log.Info("room expired", "room", room, "last_event", last)
		}
	}
	// Each delete leaves a marker in the bucket; old ones are of no use.
	if err := p.rooms.PurgeDeletes(ctx, jetstream.DeleteMarkersOlderThan(time.Hour)); err != nil {
		p.log.Warn("room expiry: purging delete markers failed", "err", err)
	}
}

// roomSweepEvery is how often rooms are looked at for expiry: a quarter of the expiry,
// between 10 s and 10 min.
func roomSweepEvery(expiry time.Duration) time.Duration {
	return min(max(expiry/4, 10*time.Second), 10*time.Minute)
}

// idleRooms lists the public rooms made before cutoff that nobody is in.
func (s *State) idleRooms(cutoff time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, r := range s.rooms {
		if !r.Private && !protocol.IsPrivate(id) && len(s.members[id]) == 0 && r.Created < cutoff.Unix() {
			out = append(out, id)
		}
	}
	return out
}

// present reports whether anyone is in room.
func (s *State) present(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.members[room]) > 0
}
