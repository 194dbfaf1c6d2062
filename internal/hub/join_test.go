package hub

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

func TestJoinWaitsForReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		c := fx.conn("alice", "s1", 8)
		res := fx.joinAsync(context.Background(), c, "lobby", 0)
		fx.deliver("lobby", 5) // before Reset: ignored
		select {
		case r := <-res:
			t.Fatalf("join completed before Reset: %+v", r)
		default:
		}
		fx.reset("lobby", 10)
		r := <-res
		if r.err != nil || r.t.Gen == 0 || r.t.Upto != 10 || r.t.From != 10 || len(r.t.Window) != 0 {
			t.Fatalf("ticket = %+v, %v; want Upto=From=10, empty window", r.t, r.err)
		}
		expect(t, "queue", c.drain(), nil)
	})
}

func TestJoinWaitsForMinID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 8), fx.conn("bob", "s1", 8)
		fx.open(a, "lobby", 10)
		res := fx.joinAsync(context.Background(), b, "lobby", 12)
		fx.deliver("lobby", 11)
		select {
		case r := <-res:
			t.Fatalf("join completed before its event: %+v", r)
		default:
		}
		fx.deliver("lobby", 12, 13)
		r := <-res
		if r.err != nil || r.t.Upto != 13 || r.t.From != 10 {
			t.Fatalf("ticket = %+v, %v; want Upto 13, From 10", r.t, r.err)
		}
		expect(t, "window", names(r.t.Window), names(evs("lobby", 11, 12, 13)))
		expect(t, "b's queue before Joined", b.drain(), nil)
	})
}

// The joined reply comes first, then its tail, then what was delivered while the join
// was pending, in order, none twice and none missed; then live events.
func TestJoinedOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 32), fx.conn("bob", "s1", 32)
		fx.open(a, "lobby", 10)
		fx.deliver("lobby", 11)
		tk := fx.join(b, "lobby", 11)
		fx.deliver("lobby", 12, 13)
		fx.deliver("lobby", 13, 14) // 13 again: ignored
		expect(t, "pending queue", b.drain(), nil)

		fx.joined(b, "lobby", tk, "tail-a", "tail-b")
		fx.deliver("lobby", 15)
		expect(t, "b", b.drain(), []string{
			"joined:lobby:11", "tail-a", "tail-b", "lobby:12", "lobby:13", "lobby:14", "lobby:15"})
		expect(t, "a", a.drain(), []string{
			"joined:lobby:10", "lobby:11", "lobby:12", "lobby:13", "lobby:14", "lobby:15"})
	})
}

func TestRejoinWhileLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		c := fx.conn("alice", "s1", 32)
		t1 := fx.open(c, "lobby", 10)
		fx.deliver("lobby", 11)
		t2 := fx.join(c, "lobby", 0)
		if t2.Gen == t1.Gen || t2.Upto != 11 {
			t.Fatalf("second ticket = %+v after %+v", t2, t1)
		}
		fx.deliver("lobby", 12) // held until the second reply
		fx.joined(c, "lobby", t1)
		fx.joined(c, "lobby", t2)
		fx.deliver("lobby", 13)
		expect(t, "queue", c.drain(), []string{
			"joined:lobby:10", "lobby:11", "joined:lobby:10", "joined:lobby:11", "lobby:12", "lobby:13"})
		if st := fx.stats(); st.Rooms != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// A Joined of a join from before the session left and joined again is stale: it queues
// its reply only, and the new join's reply still comes before the events it held.
func TestStaleJoinedAfterLeaveAndRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 32), fx.conn("bob", "s1", 32)
		fx.open(a, "lobby", 10)
		t1 := fx.join(b, "lobby", 0)
		fx.ok(fx.h.Leave(b.Session, "lobby", nil))
		fx.deliver("lobby", 11)
		t2 := fx.join(b, "lobby", 0)
		if t2.Gen == t1.Gen {
			t.Fatalf("join after leave reused gen %d", t1.Gen)
		}
		fx.deliver("lobby", 12)
		fx.joined(b, "lobby", t1)
		fx.deliver("lobby", 13)
		fx.joined(b, "lobby", t2)
		expect(t, "b", b.drain(), []string{"joined:lobby:10", "joined:lobby:11", "lobby:12", "lobby:13"})
	})
}

func TestLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 32), fx.conn("bob", "s1", 32)
		fx.open(a, "lobby", 10)
		fx.live(b, "lobby")
		fx.deliver("lobby", 11)
		fx.ok(fx.h.Leave(b.Session, "lobby", &Frame{Data: []byte("left:lobby")}))
		fx.deliver("lobby", 12)
		expect(t, "b", b.drain(), []string{"joined:lobby:10", "lobby:11", "left:lobby"})

		// Leaving while pending drops what was held, and a late Joined queues nothing.
		tk := fx.join(b, "lobby", 0)
		fx.deliver("lobby", 13)
		fx.ok(fx.h.Leave(b.Session, "lobby", &Frame{Data: []byte("left:lobby")}))
		fx.joined(b, "lobby", tk)
		fx.deliver("lobby", 14)
		expect(t, "b after pending leave", b.drain(), []string{"left:lobby"})
		expect(t, "a", a.drain(), append([]string{"joined:lobby:10"}, names(evs("lobby", 11, 12, 13, 14))...))
	})
}

func TestLeaveEndsWaitingJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		c := fx.conn("alice", "s1", 8)
		res := fx.joinAsync(context.Background(), c, "lobby", 0)
		fx.ok(fx.h.Leave(c.Session, "lobby", nil))
		if r := <-res; !errors.Is(r.err, ErrNotJoined) {
			t.Fatalf("join = %+v, want ErrNotJoined", r)
		}
		starts, stops := fx.feed.calls()
		expect(t, "starts", starts, []feedCall{{"lobby", 1}})
		expect(t, "stops", stops, []feedCall{{"lobby", 1}})
	})
}

// A join given up through its context, then left as Join's doc asks, leaves nothing.
func TestJoinCancelledThenLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 8), fx.conn("bob", "s1", 8)
		fx.open(a, "lobby", 10)
		a.drain()
		ctx, cancel := context.WithCancel(context.Background())
		resWait := fx.joinAsync(ctx, b, "lobby", 20) // waits for its event
		resNew := fx.joinAsync(ctx, b, "games", 0)   // waits for the feed
		cancel()
		for _, res := range []<-chan joinResult{resWait, resNew} {
			if r := <-res; !errors.Is(r.err, context.Canceled) {
				t.Fatalf("cancelled join = %+v", r)
			}
		}
		fx.ok(fx.h.Leave(b.Session, "lobby", nil))
		fx.ok(fx.h.Leave(b.Session, "games", nil))
		fx.deliver("lobby", 20)
		expect(t, "b", b.drain(), nil)
		expect(t, "a", a.drain(), []string{"lobby:20"})
		if st := fx.stats(); st != (Stats{Sessions: 2, Rooms: 1}) {
			t.Fatalf("stats = %+v", st)
		}
		_, stops := fx.feed.calls()
		expect(t, "stops", stops, []feedCall{{"games", 2}})
	})
}

func TestJoinUnregistered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		c := newConn("alice", "s1", 8)
		if _, err := fx.h.Join(context.Background(), c.Session, "lobby", 0); !errors.Is(err, ErrNotJoined) {
			t.Fatalf("join of an unregistered session = %v", err)
		}
		if starts, _ := fx.feed.calls(); len(starts) != 0 {
			t.Fatalf("room started for an unregistered session: %v", starts)
		}
	})
}
