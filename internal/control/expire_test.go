package control

import (
	"slices"
	"testing"
	"time"
)

// Public rooms nobody is in and nothing was stored in for RoomExpiry lose their record, on
// every gateway; rooms someone is in, rooms with a recent event and private rooms stay;
// a join makes an expired room again.
func TestEmptySilentRoomsExpire(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	w.cfg.RoomExpiry = time.Hour
	a, b := w.start("gw-a"), w.start("gw-b")
	for _, room := range []string{"busy", "quiet", "recent", "never-used"} {
		if err := a.Access(w.ctx, "alice", room, true); err != nil {
			t.Fatal(err)
		}
	}
	dm, err := a.Private(w.ctx, "alice", "bob")
	if err != nil {
		t.Fatal(err)
	}
	a.connect("alice", "s1", "c1")
	a.join("alice", "s1", "c1", "busy")
	b.connect("bob", "s1", "c2")
	b.join("bob", "s1", "c2", "quiet")
	b.leave("bob", "s1", "c2", "quiet")

	w.clock.Add(2 * time.Hour)
	b.join("bob", "s1", "c2", "recent")
	b.leave("bob", "s1", "c2", "recent")
	waitFor(t, w.ctx, "both gateways to see the members", func() bool {
		return a.State().present("busy") && b.State().present("busy") && !a.State().present("recent") && !b.State().present("recent")
	})

	a.expireRooms(w.ctx)
	b.expireRooms(w.ctx) // finds them gone, or loses the compare-and-set: no harm
	for _, room := range []string{"quiet", "never-used"} {
		if rec, _ := a.roomEntry(room); rec != nil {
			t.Errorf("%s not expired: %+v", room, *rec)
		}
	}
	for _, room := range []string{"busy", "recent", dm} {
		if rec, _ := a.roomEntry(room); rec == nil {
			t.Errorf("%s expired", room)
		}
	}
	for _, g := range []*gateway{a, b} {
		waitFor(t, w.ctx, g.cfg.GatewayID+" to forget the expired rooms", func() bool {
			var ids []string
			for _, r := range g.State().Rooms("") {
				ids = append(ids, r.ChatroomID)
			}
			return slices.Equal(ids, []string{"busy", "recent"})
		})
	}
	// The history of an expired room is still there, and a join makes the room again.
	if evs := w.events("quiet"); len(evs) != 2 {
		t.Errorf("events of the expired room: %v, want its join and leave", evs)
	}
	if err := b.Access(w.ctx, "carol", "quiet", true); err != nil {
		t.Fatal(err)
	}
	if rec, _ := a.roomEntry("quiet"); rec == nil || rec.Created != w.clock.Now().Unix() {
		t.Errorf("the room made again: %+v", rec)
	}
}

func TestRoomSweepEvery(t *testing.T) {
	for expiry, want := range map[time.Duration]time.Duration{
		time.Second: 10 * time.Second, time.Minute: 15 * time.Second, 24 * time.Hour: 10 * time.Minute,
	} {
		if got := roomSweepEvery(expiry); got != want {
			t.Errorf("roomSweepEvery(%v) = %v, want %v", expiry, got, want)
		}
	}
}
