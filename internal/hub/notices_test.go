package hub

import (
	"testing"
	"testing/synctest"
)

func TestDeleteErasesFromWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{Window: 8})
		a, b := fx.conn("alice", "s1", 64), fx.conn("bob", "s1", 64)
		fx.open(a, "lobby", 100)
		edit := ev("lobby", 103)
		edit.Target, edit.Edit = 101, true
		react := ev("lobby", 104)
		react.Target = 101
		fx.ok(fx.h.Deliver("lobby", fx.feed.epoch("lobby"), []Event{ev("lobby", 101), ev("lobby", 102), edit, react}))
		before := fx.join(b, "lobby", 0)
		checkWindow(t, before, 100, 104, 101, 102, 103, 104)

		del := ev("lobby", 105)
		del.Target, del.Erase = 101, true
		fx.ok(fx.h.Deliver("lobby", fx.feed.epoch("lobby"), []Event{del}))
		checkWindow(t, fx.join(b, "lobby", 0), 100, 105, 102, 104, 105)
		// A ticket handed out before keeps its window.
		checkWindow(t, before, 100, 104, 101, 102, 103, 104)
		// The delete itself went to the live member, after what it erases.
		got := a.drain()
		if len(got) == 0 || got[len(got)-1] != "lobby:105" {
			t.Fatalf("alice got %v", got)
		}

		// Older events read from the stream before the erase do not bring it back.
		stale := evs("lobby", 95, 98, 100)
		stale[0].ID = 95
		del2 := ev("lobby", 106)
		del2.Target, del2.Erase = 98, true
		fx.ok(fx.h.Deliver("lobby", fx.feed.epoch("lobby"), []Event{del2}))
		tk := fx.join(b, "lobby", 0)
		fx.ok(fx.h.Joined(Reply{Session: b.Session, Room: "lobby", Gen: tk.Gen,
			Reply: joinedFrame("lobby", tk.Upto), Older: stale, OlderFrom: 90}))
		checkWindow(t, fx.join(b, "lobby", 0), 90, 106, 95, 100, 102, 104, 105, 106)
	})
}

func TestTypingAndToUser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fx := newFixture(t, Config{})
		a1, a2, b := fx.conn("alice", "s1", 64), fx.conn("alice", "s2", 64), fx.conn("bob", "s1", 64)
		fx.open(a1, "lobby", 10)
		fx.live(a2, "lobby")
		fx.live(b, "lobby")
		for _, c := range []*conn{a1, a2, b} {
			c.drain()
		}
		fx.h.Typing("lobby", "alice", &Frame{Data: []byte("typing:alice")})
		fx.h.Typing("other", "alice", &Frame{Data: []byte("typing:other")})
		fx.ok(fx.h.ToUser("alice", a1.Conn, &Frame{Data: []byte("read:alice")}))
		synctest.Wait()
		expect(t, "alice s1", a1.drain(), nil)
		expect(t, "alice s2", a2.drain(), []string{"read:alice"})
		expect(t, "bob", b.drain(), []string{"typing:alice"})
	})
}
