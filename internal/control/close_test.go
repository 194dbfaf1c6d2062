package control

import (
	"slices"
	"testing"
	"time"
)

// CloseSessions reaches every gateway, the sender included; a notice with a bad name or a
// code outside 4000..4999 is ignored.
func TestCloseSessionsReachesEveryGateway(t *testing.T) {
	w := newWorld(t, time.Second, time.Minute)
	a, b := w.start("gw-a"), w.start("gw-b")
	if err := a.CloseSessions(w.ctx, "alice", "", 4002, "disconnected by the server"); err != nil {
		t.Fatal(err)
	}
	if err := b.CloseSessions(w.ctx, "bob", "s1", 4002, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := b.nc.Publish("chat.close", []byte(`{"userId":"a.b","code":4002}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.nc.Publish("chat.close", []byte(`{"userId":"carol","code":1000}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.CloseSessions(w.ctx, "dave", "", 4002, "last"); err != nil {
		t.Fatal(err)
	}
	want := []string{"alice  4002 disconnected by the server", "bob s1 4002 bye", "dave  4002 last"}
	for _, g := range []*gateway{a, b} {
		waitFor(t, w.ctx, "close notices on "+g.cfg.GatewayID, func() bool { return len(g.local.closed()) >= 3 })
		if got := g.local.closed(); !slices.Equal(got, want) {
			t.Fatalf("%s closed %q, want %q", g.cfg.GatewayID, got, want)
		}
	}
	if ok, err := a.RoomExists(w.ctx, "lobby"); ok || err != nil {
		t.Fatalf("lobby exists before anyone made it: %v %v", ok, err)
	}
	if err := a.Access(w.ctx, "alice", "lobby", true); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.RoomExists(w.ctx, "lobby"); !ok || err != nil {
		t.Fatalf("lobby after a join's access: %v %v", ok, err)
	}
}
