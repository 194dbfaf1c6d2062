package hub

import (
	"context"
	"testing"
	"testing/synctest"
)

func TestDeliverIgnoresOldAndDuplicateIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		c := fx.conn("alice", "s1", 32)
		fx.open(c, "lobby", 10)
		fx.deliver("lobby", 9, 10, 11)
		fx.deliver("lobby", 11, 13, 12, 13, 15)
		fx.deliver("lobby", 15)
		expect(t, "queue", c.drain(), []string{"joined:lobby:10", "lobby:11", "lobby:13", "lobby:15"})
	})
}

func TestRoomLifecycleEpochs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 32), fx.conn("bob", "s1", 32)
		fx.open(a, "lobby", 10)
		fx.live(b, "lobby")
		fx.ok(fx.h.Leave(a.Session, "lobby", nil))
		fx.ok(fx.h.Leave(b.Session, "lobby", nil))
		a.drain()
		b.drain()

		fx.open(a, "lobby", 20)
		starts, stops := fx.feed.calls()
		expect(t, "starts", starts, []feedCall{{"lobby", 1}, {"lobby", 2}})
		expect(t, "stops", stops, []feedCall{{"lobby", 1}})

		// The old feed still talks: the hub no longer listens to it.
		fx.ok(fx.h.Reset("lobby", 1, 30))
		fx.ok(fx.h.Deliver("lobby", 1, evs("lobby", 21, 22)))
		fx.deliver("lobby", 21)
		fx.ok(fx.h.Reset("lobby", 2, 40)) // a second Reset of a ready feed: ignored
		fx.deliver("lobby", 22)
		expect(t, "a", a.drain(), []string{"joined:lobby:20", "lobby:21", "lobby:22"})

		fx.ok(fx.h.Unregister(a.Session))
		_, stops = fx.feed.calls()
		expect(t, "stops", stops, []feedCall{{"lobby", 1}, {"lobby", 2}})
		fx.ok(fx.h.Deliver("lobby", 2, evs("lobby", 23))) // room gone: ignored
		if st := fx.stats(); st.Rooms != 0 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

func TestSlowSessionIsCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		slow, fast := fx.conn("slow", "s1", 4), fx.conn("fast", "s1", 64)
		fx.open(slow, "lobby", 0)
		fx.open(slow, "games", 0)
		fx.live(fast, "lobby")
		var ids []uint64
		for id := uint64(1); id <= 20; id++ {
			fx.deliver("lobby", id)
			ids = append(ids, id)
		}
		expect(t, "slow cuts", slow.cutCodes(), []int{CloseSlow})
		expect(t, "fast cuts", fast.cutCodes(), nil)
		expect(t, "fast", fast.drain(), append([]string{"joined:lobby:0"}, names(evs("lobby", ids...))...))
		if got, _ := fx.h.SessionsOf(context.Background(), "slow"); len(got) != 0 {
			t.Fatalf("slow session still registered: %v", got)
		}
		_, stops := fx.feed.calls()
		expect(t, "stops", stops, []feedCall{{"games", 2}})
	})
}

func TestPendingOverflowCuts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{PendingMax: 3})
		a, b := fx.conn("alice", "s1", 64), fx.conn("bob", "s1", 64)
		fx.open(a, "lobby", 0)
		tk := fx.join(b, "lobby", 0)
		fx.deliver("lobby", 1, 2, 3)
		expect(t, "cuts at PendingMax", b.cutCodes(), nil)
		fx.deliver("lobby", 4)
		expect(t, "cuts over PendingMax", b.cutCodes(), []int{CloseSlow})
		fx.joined(b, "lobby", tk)
		expect(t, "b", b.drain(), nil)
		if st := fx.stats(); st.Sessions != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// The events that follow a joined reply (its tail and the live events held meanwhile) count
// against the session's budget: when they do not fit, the session is cut and removed. The
// reply itself never counts.
func TestJoinedOverflowCuts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a, b := fx.conn("alice", "s1", 64), fx.conn("bob", "s1", 1)
		fx.open(a, "lobby", 0)
		tk := fx.join(b, "lobby", 0)
		fx.deliver("lobby", 1, 2)
		fx.joined(b, "lobby", tk, "tail")
		expect(t, "cuts", b.cutCodes(), []int{CloseSlow})
		if got, _ := fx.h.SessionsOf(context.Background(), "bob"); len(got) != 0 {
			t.Fatalf("bob still registered: %v", got)
		}
	})
}
