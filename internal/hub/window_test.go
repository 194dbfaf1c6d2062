package hub

import (
	"testing"
	"testing/synctest"
)

// checkWindow fails unless t's window holds exactly the events ids with From and Upto.
func checkWindow(t *testing.T, tk Ticket, from, upto uint64, ids ...uint64) {
	t.Helper()
	if tk.From != from || tk.Upto != upto {
		t.Fatalf("ticket From=%d Upto=%d, want %d, %d", tk.From, tk.Upto, from, upto)
	}
	var got []uint64
	for _, e := range tk.Window {
		got = append(got, e.ID)
	}
	expect(t, "window ids", got, ids)
}

func TestWindowTrim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{Window: 4})
		a, b := fx.conn("alice", "s1", 64), fx.conn("bob", "s1", 64)
		first := fx.open(a, "lobby", 10)
		checkWindow(t, first, 10, 10)
		fx.deliver("lobby", 11, 13, 14)
		tk := fx.join(b, "lobby", 0)
		checkWindow(t, tk, 10, 14, 11, 13, 14)

		// The window grows to twice its size, then keeps the newest Window events.
		fx.deliver("lobby", 15, 16, 17, 18, 19)
		checkWindow(t, fx.join(b, "lobby", 0), 10, 19, 11, 13, 14, 15, 16, 17, 18, 19)
		fx.deliver("lobby", 20)
		checkWindow(t, fx.join(b, "lobby", 0), 16, 20, 17, 18, 19, 20)

		// A ticket's window stays as it was handed out.
		checkWindow(t, tk, 10, 14, 11, 13, 14)
		expect(t, "frames", names(tk.Window), names(evs("lobby", 11, 13, 14)))
	})
}

func TestWindowPrependOlder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{Window: 6})
		a, b := fx.conn("alice", "s1", 64), fx.conn("bob", "s1", 64)
		fx.open(a, "lobby", 100)
		fx.deliver("lobby", 101, 105)

		// Not contiguous with the window's From: ignored.
		older(fx, b, "lobby", 90, 95, 99)
		checkWindow(t, fx.join(b, "lobby", 0), 100, 105, 101, 105)
		older(fx, b, "lobby", 80, 98, 101) // overlaps the window
		checkWindow(t, fx.join(b, "lobby", 0), 100, 105, 101, 105)

		older(fx, b, "lobby", 90, 95, 98, 100)
		checkWindow(t, fx.join(b, "lobby", 0), 90, 105, 95, 98, 100, 101, 105)

		// Only as many as fit in Window are kept, the newest.
		older(fx, b, "lobby", 70, 75, 80, 85, 90)
		checkWindow(t, fx.join(b, "lobby", 0), 85, 105, 90, 95, 98, 100, 101, 105)
		// A full window takes no more.
		older(fx, b, "lobby", 80, 85)
		checkWindow(t, fx.join(b, "lobby", 0), 85, 105, 90, 95, 98, 100, 101, 105)
	})
}

// older makes c join room and answers with Older events ids after from.
func older(fx *fixture, c *conn, room string, from uint64, ids ...uint64) {
	fx.t.Helper()
	tk := fx.join(c, room, 0)
	fx.ok(fx.h.Joined(Reply{Session: c.Session, Room: room, Gen: tk.Gen,
		Reply: joinedFrame(room, tk.Upto), Older: evs(room, ids...), OlderFrom: from}))
}
