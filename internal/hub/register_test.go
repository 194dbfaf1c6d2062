package hub

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
)

func TestRegisterReplacesSameSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		old := fx.conn("alice", "s1", 8)
		other := fx.conn("bob", "s1", 8) // same session id, another user
		res := fx.joinAsync(context.Background(), old, "lobby", 0)

		nu := fx.conn("alice", "s1", 8)
		expect(t, "old cuts", old.cutCodes(), []int{CloseReplaced})
		expect(t, "other user's cuts", other.cutCodes(), nil)
		expect(t, "new cuts", nu.cutCodes(), nil)
		if r := <-res; !errors.Is(r.err, ErrNotJoined) {
			t.Fatalf("join of the replaced session = %v, want ErrNotJoined", r.err)
		}
		if st := fx.stats(); st != (Stats{Sessions: 2, Rooms: 0}) {
			t.Fatalf("stats after replace = %+v, want 2 sessions and the room gone", st)
		}
		got, err := fx.h.SessionsOf(context.Background(), "alice")
		if err != nil || len(got) != 1 || got[0] != nu.Session {
			t.Fatalf("SessionsOf(alice) = %v, %v; want only the new session", got, err)
		}

		// The old connection's own Unregister comes late: it must not touch the new one.
		fx.ok(fx.h.Unregister(old.Session))
		got, _ = fx.h.SessionsOf(context.Background(), "alice")
		if len(got) != 1 || got[0] != nu.Session {
			t.Fatalf("SessionsOf(alice) after old Unregister = %v", got)
		}
	})
}

func TestSessionsOfAndStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a1, a2 := fx.conn("alice", "s1", 8), fx.conn("alice", "s2", 8)
		fx.conn("bob", "s1", 8)
		// Rooms with only waiting joins count.
		res1 := fx.joinAsync(context.Background(), a1, "lobby", 0)
		res2 := fx.joinAsync(context.Background(), a2, "games", 0)
		if st := fx.stats(); st != (Stats{Sessions: 3, Rooms: 2}) {
			t.Fatalf("stats = %+v", st)
		}
		got, err := fx.h.SessionsOf(context.Background(), "alice")
		if err != nil || len(got) != 2 {
			t.Fatalf("SessionsOf(alice) = %v, %v", got, err)
		}
		if got, _ := fx.h.SessionsOf(context.Background(), "carol"); len(got) != 0 {
			t.Fatalf("SessionsOf(carol) = %v", got)
		}
		fx.ok(fx.h.Unregister(a1.Session))
		fx.ok(fx.h.Unregister(a2.Session))
		for _, res := range []<-chan joinResult{res1, res2} {
			if r := <-res; !errors.Is(r.err, ErrNotJoined) {
				t.Fatalf("join of an unregistered session = %v, want ErrNotJoined", r.err)
			}
		}
		if st := fx.stats(); st != (Stats{Sessions: 1, Rooms: 0}) {
			t.Fatalf("stats after unregister = %+v", st)
		}
	})
}

func TestUnregisterLeavesRoomsAndStopsEmptyOnes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 8), fx.conn("bob", "s1", 8)
		fx.open(a, "lobby", 0)
		fx.open(a, "games", 0)
		fx.live(b, "lobby")
		a.drain()
		b.drain()

		fx.ok(fx.h.Unregister(a.Session))
		_, stops := fx.feed.calls()
		expect(t, "stops", stops, []feedCall{{"games", 2}})
		fx.deliver("lobby", 1)
		expect(t, "alice after unregister", a.drain(), nil)
		expect(t, "bob", b.drain(), []string{"lobby:1"})
		if st := fx.stats(); st != (Stats{Sessions: 1, Rooms: 1}) {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestBroadcast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 8), fx.conn("bob", "s1", 8)
		slow := fx.conn("carol", "s1", 1)
		slow.Send(&Frame{Data: []byte("filler")})

		fx.ok(fx.h.Broadcast(&Frame{Data: []byte("online:dave")}))
		expect(t, "alice", a.drain(), []string{"online:dave"})
		expect(t, "bob", b.drain(), []string{"online:dave"})
		expect(t, "slow cuts", slow.cutCodes(), []int{CloseSlow})
		if st := fx.stats(); st.Sessions != 2 {
			t.Fatalf("stats = %+v, want the slow session removed", st)
		}
	})
}

func TestCallsAfterRunReturnFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		c := fx.conn("alice", "s1", 8)
		waiting := fx.joinAsync(context.Background(), c, "lobby", 0)
		fx.stop()
		if r := <-waiting; !errors.Is(r.err, ErrClosed) {
			t.Fatalf("waiting join = %v, want ErrClosed", r.err)
		}

		ctx := context.Background()
		f := &Frame{Data: []byte("x")}
		calls := map[string]func() error{
			"Register":   func() error { return fx.h.Register(c.Session) },
			"Unregister": func() error { return fx.h.Unregister(c.Session) },
			"Join":       func() error { _, err := fx.h.Join(ctx, c.Session, "lobby", 0); return err },
			"Joined":     func() error { return fx.h.Joined(Reply{Session: c.Session, Room: "lobby", Reply: f}) },
			"Leave":      func() error { return fx.h.Leave(c.Session, "lobby", f) },
			"Reset":      func() error { return fx.h.Reset("lobby", 1, 0) },
			"Deliver":    func() error { return fx.h.Deliver("lobby", 1, evs("lobby", 1)) },
			"Broadcast":  func() error { return fx.h.Broadcast(f) },
			"SessionsOf": func() error { _, err := fx.h.SessionsOf(ctx, "alice"); return err },
			"Stats":      func() error { _, err := fx.h.Stats(ctx); return err },
		}
		for name, call := range calls {
			for range 20 { // a select would pick a free buffer slot half of the time
				if err := call(); !errors.Is(err, ErrClosed) {
					t.Fatalf("%s after Run returned = %v, want ErrClosed", name, err)
				}
			}
		}
	})
}

// A connection stores its leave right after Unregister returns, and that leave comes back
// through the room's feed: the session must not receive it, whichever of the hub's inputs
// the hub reads first.
func TestNothingReachesASessionAfterUnregisterReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		b := fx.conn("bob", "s1", 1024)
		fx.open(b, "lobby", 0)
		b.drain()
		for i := range 50 {
			a := fx.conn("alice", "s1", 1024)
			fx.live(a, "lobby")
			a.drain()
			// Keep the hub busy with requests queued before the Unregister.
			for j := range 20 {
				if err := fx.h.Register(newConn("carol", fmt.Sprint(i, j), 8).Session); err != nil {
					t.Fatal(err)
				}
			}
			if err := fx.h.Unregister(a.Session); err != nil {
				t.Fatal(err)
			}
			// No synctest.Wait between the two: Unregister alone must be enough.
			if err := fx.h.Deliver("lobby", fx.feed.epoch("lobby"), evs("lobby", uint64(i+1))); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			expect(t, "alice after unregister", a.drain(), nil)
		}
		if got := len(b.drain()); got != 50 {
			t.Fatalf("bob got %d events, want 50", got)
		}
	})
}

// The same for Leave: once it returns, no event of the room reaches the session, even when
// the hub had requests queued before it and the next event is delivered at once (the
// gateway stores the session's own remove/leave right after Leave returns).
func TestNothingOfARoomReachesASessionAfterLeaveReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		b := fx.conn("bob", "s1", 1024)
		fx.open(b, "lobby", 0)
		b.drain()
		a := fx.conn("alice", "s1", 1024)
		for i := range 50 {
			fx.live(a, "lobby")
			a.drain()
			for j := range 20 {
				if err := fx.h.Register(newConn("carol", fmt.Sprint(i, j), 8).Session); err != nil {
					t.Fatal(err)
				}
			}
			if err := fx.h.Leave(a.Session, "lobby", nil); err != nil {
				t.Fatal(err)
			}
			if err := fx.h.Deliver("lobby", fx.feed.epoch("lobby"), evs("lobby", uint64(i+1))); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
			expect(t, "alice after leave", a.drain(), nil)
		}
		if got := len(b.drain()); got != 50 {
			t.Fatalf("bob got %d events, want 50", got)
		}
	})
}
