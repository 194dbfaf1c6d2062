package control

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/protocol"
)

// roomEntry reads a room's record and its revision from the rooms bucket; nil when absent.
func (g *gateway) roomEntry(room string) (*roomRecord, uint64) {
	g.w.t.Helper()
	rec, rev, err := get[roomRecord](g.w.ctx, g.rooms, room)
	if err != nil {
		g.w.t.Fatal(err)
	}
	return rec, rev
}

// Access creates a public room the first time it is joined, once, whichever gateway joins
// it; reading a room (create unset) creates nothing.
func TestAccessCreatesPublicRoomOnce(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	if err := a.Access(w.ctx, "alice", "lobby", false); err != nil {
		t.Fatalf("reading a room that does not exist: %v", err)
	}
	if rec, _ := a.roomEntry("lobby"); rec != nil {
		t.Fatalf("reading a room created it: %+v", *rec)
	}

	created := w.clock.Now().Unix()
	if err := a.Access(w.ctx, "alice", "lobby", true); err != nil {
		t.Fatal(err)
	}
	rec, rev := a.roomEntry("lobby")
	if rec == nil || !reflect.DeepEqual(*rec, roomRecord{ChatroomID: "lobby", Created: created}) {
		t.Fatalf("the room joined first: %+v", rec)
	}
	w.clock.Add(time.Hour)
	for _, g := range []*gateway{b, a, b} {
		if err := g.Access(w.ctx, "bob", "lobby", true); err != nil {
			t.Fatalf("joining on %s: %v", g.cfg.GatewayID, err)
		}
	}
	if again, revAgain := a.roomEntry("lobby"); revAgain != rev || !reflect.DeepEqual(again, rec) {
		t.Errorf("the room after more joins: %+v (revision %d), want %+v (revision %d)", again, revAgain, *rec, rev)
	}
	waitFor(t, w.ctx, "gw-b to list lobby", func() bool {
		return slices.Equal(b.State().Rooms("bob"), []protocol.RoomInfo{{ChatroomID: "lobby", Mode: "open"}})
	})
}

// A dm- room that Private did not open is forbidden, to join or to read, and is not created.
func TestAccessForbidsPrivateRoomNotOpened(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a := w.start("gw-a")
	for _, room := range []string{"dm-made-up", PrivateRoom("alice", "bob")} {
		for _, create := range []bool{true, false} {
			if err := a.Access(w.ctx, "alice", room, create); !errors.Is(err, ErrForbidden) {
				t.Errorf("Access %s (create %v): %v, want ErrForbidden", room, create, err)
			}
		}
		if rec, _ := a.roomEntry(room); rec != nil {
			t.Errorf("%s was created: %+v", room, *rec)
		}
	}
}

// Private gives the same room for both orders of a pair, whichever gateway asks, creates it
// once, lets only its two users in, and tells every gateway's Local each time it is opened.
func TestPrivateSameRoomBothOrdersToldEveryGateway(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	room, err := a.Private(w.ctx, "bob", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(room, protocol.PrivatePrefix) || room != PrivateRoom("alice", "bob") || room != PrivateRoom("bob", "alice") {
		t.Fatalf("private room of bob and alice: %q", room)
	}
	rec, rev := a.roomEntry(room)
	if rec == nil || !rec.Private || !slices.Equal(rec.Members, []string{"alice", "bob"}) {
		t.Fatalf("the private room's record: %+v", rec)
	}
	again, err := b.Private(w.ctx, "alice", "bob")
	if err != nil || again != room {
		t.Fatalf("the other order, on the other gateway: %q, %v; want %q", again, err, room)
	}
	if _, revAgain := a.roomEntry(room); revAgain != rev {
		t.Errorf("opening it again wrote the record again: revision %d, want %d", revAgain, rev)
	}
	other, err := a.Private(w.ctx, "alice", "carol")
	if err != nil || other == room {
		t.Errorf("alice and carol got %q, %v; alice and bob have %q", other, err, room)
	}

	// Notices from two gateways' connections may arrive in either order.
	opened := []string{room + " alice bob", room + " bob alice", other + " alice carol"}
	slices.Sort(opened)
	for _, g := range []*gateway{a, b} {
		for user, want := range map[string]error{"alice": nil, "bob": nil, "carol": ErrForbidden} {
			if err := g.Access(w.ctx, user, room, true); !errors.Is(err, want) {
				t.Errorf("%s's access on %s: %v, want %v", user, g.cfg.GatewayID, err, want)
			}
		}
		waitFor(t, w.ctx, g.cfg.GatewayID+" to hear of every opening", func() bool {
			return len(g.local.opened()) >= len(opened)
		})
		got := g.local.opened()
		slices.Sort(got)
		if !slices.Equal(got, opened) {
			t.Errorf("private rooms opened on %s: %q, want %q", g.cfg.GatewayID, got, opened)
		}
	}
}
