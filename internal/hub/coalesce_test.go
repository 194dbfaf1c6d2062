package hub

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// wakeConn is a registered session that counts its writer's wake-ups.
type wakeConn struct {
	*conn
	wakes atomic.Int32
}

func (fx *fixture) wakeConn(user string, capacity int) *wakeConn {
	w := &wakeConn{conn: newConn(user, "s1", capacity)}
	w.wake = func() { w.wakes.Add(1) }
	fx.ok(fx.h.Register(w.Session))
	return w
}

// presence makes a presence event of room, reading "room:id".
func presence(room string, id uint64) Event {
	e := ev(room, id)
	e.Presence = true
	return e
}

func (fx *fixture) deliverEvents(room string, es ...Event) {
	fx.t.Helper()
	fx.ok(fx.h.Deliver(room, fx.feed.epoch(room), es))
}

func TestPresenceWaitsToShareAWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 200 * time.Millisecond
		fx := newFixture(t, Config{Coalesce: d})
		a := fx.wakeConn("alice", 64)
		fx.open(a.conn, "lobby", 10)
		a.drain()
		wakes := a.wakes.Load()

		// A quiet session gets presence at once.
		fx.deliverEvents("lobby", presence("lobby", 11))
		expect(t, "first presence", a.drain(), []string{"lobby:11"})
		if got := a.wakes.Load(); got != wakes+1 {
			t.Fatalf("wakes %d, want %d", got, wakes+1)
		}
		// More within the period waits, out of the writer's sight, and wakes nobody.
		fx.deliverEvents("lobby", presence("lobby", 12))
		fx.ok(fx.h.Broadcast(&Frame{Data: []byte("online:bob")}))
		fx.deliverEvents("lobby", presence("lobby", 13))
		expect(t, "presence within the period", a.drain(), nil)
		if got := a.wakes.Load(); got != wakes+1 {
			t.Fatalf("waiting presence woke the writer: wakes %d, want %d", got, wakes+1)
		}
		if q := a.Queued(); q == 0 {
			t.Fatal("waiting presence does not count as queued")
		}
		// The flush hands it all over, in order, with one wake.
		time.Sleep(d)
		synctest.Wait()
		expect(t, "after the flush", a.drain(), []string{"lobby:12", "online:bob", "lobby:13"})
		if got := a.wakes.Load(); got != wakes+2 {
			t.Fatalf("wakes %d, want %d", got, wakes+2)
		}
		// Released again just now: the next waits for the next flush, not more.
		fx.deliverEvents("lobby", presence("lobby", 14))
		expect(t, "presence right after a flush", a.drain(), nil)
		time.Sleep(d)
		synctest.Wait()
		expect(t, "second flush", a.drain(), []string{"lobby:14"})
	})
}

func TestMessagesAndRepliesTakeWaitingPresenceAlong(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{Coalesce: time.Hour})
		a := fx.wakeConn("alice", 64)
		fx.open(a.conn, "lobby", 10)
		fx.deliverEvents("lobby", presence("lobby", 11)) // released: the next ones wait
		a.drain()

		fx.deliverEvents("lobby", presence("lobby", 12))
		fx.deliverEvents("lobby", ev("lobby", 13)) // a message
		expect(t, "message after presence", a.drain(), []string{"lobby:12", "lobby:13"})

		fx.deliverEvents("lobby", presence("lobby", 14))
		a.Reply(&Frame{Data: []byte("ack:1")})
		expect(t, "reply after presence", a.drain(), []string{"lobby:14", "ack:1"})

		// A batch with a message in it is not presence: it goes at once.
		fx.deliverEvents("lobby", presence("lobby", 15), ev("lobby", 16))
		expect(t, "mixed batch", a.drain(), []string{"lobby:15", "lobby:16"})

		// Typing waits like presence.
		b := fx.conn("bob", "s1", 64)
		fx.live(b, "lobby")
		b.drain()
		fx.h.Typing("lobby", "bob", &Frame{Data: []byte("typing:bob")})
		synctest.Wait()
		expect(t, "typing within the period", a.drain(), nil)
		fx.deliverEvents("lobby", ev("lobby", 17))
		expect(t, "message after typing", a.drain(), []string{"typing:bob", "lobby:17"})
	})
}

func TestNegativeCoalesceNeverWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{Coalesce: -1})
		a := fx.wakeConn("alice", 64)
		fx.open(a.conn, "lobby", 10)
		a.drain()
		for id := uint64(11); id <= 13; id++ {
			fx.deliverEvents("lobby", presence("lobby", id))
			expect(t, "presence", a.drain(), []string{string(ev("lobby", id).Frame.Data)})
		}
	})
}

func TestWaitingPresenceCountsAgainstTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{Coalesce: time.Hour})
		a := fx.wakeConn("alice", 4) // about four frames of ten bytes
		fx.open(a.conn, "lobby", 10)
		a.drain()
		fx.deliverEvents("lobby", presence("lobby", 11))
		// Never taken by a writer: the released one and those waiting fill the budget.
		for id := uint64(12); id <= 20; id++ {
			fx.deliverEvents("lobby", presence("lobby", id))
		}
		expect(t, "cut", a.cutCodes(), []int{CloseSlow})
		if st := fx.stats(); st.Sessions != 0 {
			t.Fatalf("a session cut as too slow is still registered: %+v", st)
		}
		// Its flush finds it gone and wakes nobody.
		wakes := a.wakes.Load()
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := a.wakes.Load(); got != wakes {
			t.Fatalf("a removed session was woken: %d, want %d", got, wakes)
		}
	})
}

// While the process is short of CPU (Config.Busy), presence waits BusyStretch times as long;
// once it is not, the period is Coalesce again.
func TestBusyStretchesThePresenceWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = 200 * time.Millisecond
		var busy atomic.Bool
		busy.Store(true)
		fx := newFixture(t, Config{Coalesce: d, Busy: busy.Load})
		a := fx.wakeConn("alice", 64)
		fx.open(a.conn, "lobby", 10)
		a.drain()

		fx.deliverEvents("lobby", presence("lobby", 11))
		expect(t, "first presence", a.drain(), []string{"lobby:11"})
		fx.deliverEvents("lobby", presence("lobby", 12))
		time.Sleep(d)
		synctest.Wait()
		expect(t, "busy, one period later", a.drain(), nil)
		time.Sleep((BusyStretch - 1) * d)
		synctest.Wait()
		expect(t, "busy, the stretched period later", a.drain(), []string{"lobby:12"})

		busy.Store(false)
		fx.ok(fx.h.Broadcast(&Frame{Data: []byte("online:bob")}))
		expect(t, "right after a flush", a.drain(), nil)
		time.Sleep(d)
		synctest.Wait()
		expect(t, "not busy, one period later", a.drain(), []string{"online:bob"})
	})
}
