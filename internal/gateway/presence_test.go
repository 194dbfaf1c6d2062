package gateway_test

import (
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// TestJoinAddRemoveLeave walks alice's two sessions and bob through a room: a2 entering
// gives add, a1 leaving gives remove, a2 leaving gives leave, and no session receives its
// own remove or leave.
func TestJoinAddRemoveLeave(t *testing.T) {
	g := gw(t, gateway.Config{})
	a1, a2, b1 := connect(t, g, "alice", "a1"), connect(t, g, "alice", "a2"), connect(t, g, "bob", "b1")
	join(t, a1, "lobby")
	join(t, b1, "lobby")
	event(t, a1, "lobby", "join", "bob", "b1")
	j := join(t, a2, "lobby")
	if last := j.Events[len(j.Events)-1]; last.Type != "add" || last.UserID != "alice" || last.SessionID != "a2" {
		t.Fatalf("a2's joined %s", j.Raw)
	}
	event(t, a1, "lobby", "add", "alice", "a2")
	event(t, b1, "lobby", "add", "alice", "a2")
	do(t, a1, "left", map[string]any{"type": "leave", "chatroomId": "lobby"})
	event(t, a2, "lobby", "remove", "alice", "a1")
	event(t, b1, "lobby", "remove", "alice", "a1")
	quiet(t, a1, "own remove")
	do(t, a2, "left", map[string]any{"type": "leave", "chatroomId": "lobby"})
	event(t, b1, "lobby", "leave", "alice", "a2")
	quiet(t, a2, "own leave")
	// A join of the user's first session again is a join.
	join(t, a1, "lobby")
	event(t, b1, "lobby", "join", "alice", "a1")
}

// TestCloseNormalLeavesAtOnce checks that closing with 1000 emits remove/leave and offline
// at once, and with 1001 nothing within the grace period.
func TestCloseNormalLeavesAtOnce(t *testing.T) {
	g := gw(t, gateway.Config{}) // the default grace of 10s: "at once" must not wait for it
	a1, a2, b1 := connect(t, g, "alice", "a1"), connect(t, g, "alice", "a2"), connect(t, g, "bob", "b1")
	for _, c := range []*chattest.Client{a1, a2, b1} {
		join(t, c, "lobby")
	}
	start := time.Now()
	a1.Close(websocket.StatusNormalClosure)
	event(t, b1, "lobby", "remove", "alice", "a1")
	a2.Until("remove", func(m chattest.Msg) bool { return m.SessionID == "a1" })
	a2.Close(websocket.StatusNormalClosure)
	exit(t, b1, "lobby", "alice", "a2")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("close 1000 took %v to be seen", d)
	}
}

// TestDropWithinGraceEmitsNothing drops connections (1001, and a cut TCP connection)
// and reconnects them with the same session within the grace period: no presence event at
// all, then or later.
func TestDropWithinGraceEmitsNothing(t *testing.T) {
	grace := 2 * time.Second
	g := gw(t, gateway.Config{Grace: grace})
	// bob first, and his copy of alice's online read: a notice on its way while he connects
	// would reach him late, whenever core NATS delivers it (CI once saw it after the drop).
	b1 := connect(t, g, "bob", "b1")
	a1 := connect(t, g, "alice", "a1")
	notice(t, b1, "online", "alice")
	witness := connect(t, g, "wit", "w1")        // a session whose own drop marks time passing
	own := lastEvent(t, join(t, a1, "lobby")).ID // alice's join
	join(t, b1, "lobby")
	join(t, witness, "lobby")
	// Drain b1 up to here.
	event(t, b1, "lobby", "join", "wit", "w1")

	// Each rejoin stores nothing: its reply ends at the session's own join, stored by its
	// first connection, and what came after it follows in order, once.
	a1.Close(websocket.StatusGoingAway)
	a1.Closed()
	a1 = connect(t, g, "alice", "a1")
	if last := lastEvent(t, join(t, a1, "lobby")); last.Type != "join" || last.UserID != "alice" || last.ID != own {
		t.Fatalf("rejoin after 1001: reply ends at %s of %s (%d), want alice's join %d", last.Type, last.UserID, last.ID, own)
	}
	event(t, a1, "lobby", "join", "bob", "b1")
	event(t, a1, "lobby", "join", "wit", "w1")
	a1.WS.CloseNow() // a dropped TCP connection, no close frame
	a1.Closed()
	a1 = connect(t, g, "alice", "a1")
	if last := lastEvent(t, join(t, a1, "lobby")); last.ID != own {
		t.Fatalf("rejoin after a dropped connection: reply ends at %s of %s (%d), want alice's join %d", last.Type, last.UserID, last.ID, own)
	}

	// The witness drops now and does not come back: once its leave is emitted, alice's grace
	// (and the window to rejoin her rooms) is over too.
	witness.WS.CloseNow()
	exit(t, b1, "lobby", "wit", "w1") // nothing of alice before it
	post(t, a1, "lobby", "still here")
	if m := event(t, b1, "lobby", "message", "alice", ""); m.Message != "still here" {
		t.Fatalf("b1 got %s", m.Raw)
	}
	for _, m := range upto(t, b1) {
		if m.UserID == "alice" {
			t.Fatalf("presence of alice emitted: %s", m.Raw)
		}
	}
	if u := usersOf(t, do(t, b1, "users", map[string]any{"type": "users"})); u["alice"] != 1 {
		t.Fatalf("users %v", u)
	}
}

// TestDropWithoutReturnExpires checks that a dropped session that does not come back is
// removed, with remove/leave and offline, within grace + 5s, and not before a later marker.
func TestDropWithoutReturnExpires(t *testing.T) {
	grace := time.Second
	g := gw(t, gateway.Config{Grace: grace})
	// bob first, and alice's online read (see TestDropWithinGraceEmitsNothing).
	b1 := connect(t, g, "bob", "b1")
	a1, a2 := connect(t, g, "alice", "a1"), connect(t, g, "alice", "a2")
	notice(t, b1, "online", "alice")
	for _, c := range []*chattest.Client{a1, b1, a2} {
		join(t, c, "lobby")
	}
	event(t, b1, "lobby", "add", "alice", "a2")
	start := time.Now()
	a1.Close(websocket.StatusGoingAway)
	a1.Closed()
	for _, m := range upto(t, b1) {
		if m.UserID == "alice" {
			t.Fatalf("emitted at once after 1001: %s", m.Raw)
		}
	}
	event(t, b1, "lobby", "remove", "alice", "a1")
	a2.WS.CloseNow()
	exit(t, b1, "lobby", "alice", "a2")
	if d := time.Since(start); d > 2*grace+5*time.Second {
		t.Fatalf("expired after %v", d)
	}
	if d := time.Since(start); d < grace {
		t.Fatalf("expired after %v, before the grace period", d)
	}
}

// TestSessionTakeOver checks that a second connection of a session closes the first with
// 4001 and emits no presence event, and that another user's same session id is untouched.
func TestSessionTakeOver(t *testing.T) {
	g := gw(t, gateway.Config{})
	// bob first, and alice's online read (see TestDropWithinGraceEmitsNothing).
	b1 := connect(t, g, "bob", "s1")
	old := connect(t, g, "alice", "s1") // same session id
	notice(t, b1, "online", "alice")
	own := lastEvent(t, join(t, old, "lobby")).ID // alice's join
	join(t, b1, "lobby")
	event(t, old, "lobby", "join", "bob", "s1")
	post(t, old, "lobby", "before")
	event(t, b1, "lobby", "message", "alice", "")

	neu := connect(t, g, "alice", "s1")
	if code := old.Closed(); code != 4001 {
		t.Fatalf("old connection closed with %d", code)
	}
	// The new connection's join stores nothing: its reply ends at the session's own join,
	// and what came after it follows in order.
	if last := lastEvent(t, join(t, neu, "lobby")); last.Type != "join" || last.UserID != "alice" || last.ID != own {
		t.Fatalf("take-over rejoin: reply ends at %s of %s (%d), want alice's join %d", last.Type, last.UserID, last.ID, own)
	}
	event(t, neu, "lobby", "join", "bob", "s1")
	if m := event(t, neu, "lobby", "message", "alice", ""); m.Message != "before" {
		t.Fatalf("after the reply: %s, want alice's message before", m.Raw)
	}
	post(t, neu, "lobby", "after")
	if m := event(t, b1, "lobby", "message", "alice", ""); m.Message != "after" {
		t.Fatalf("bob got %s", m.Raw)
	}
	for _, m := range upto(t, b1) {
		if m.UserID == "alice" || m.ChatroomID != "" {
			t.Fatalf("take-over emitted %s", m.Raw)
		}
	}
	if u := usersOf(t, eventually(t, b1, "users", func(m chattest.Msg) bool { return usersOf(t, m)["alice"] == 1 })); u["bob"] != 1 {
		t.Fatalf("users %v", u)
	}
	// bob's s1 is another session: it was not closed and still chats.
	post(t, b1, "lobby", "bob too")
	if m := event(t, neu, "lobby", "message", "bob", ""); m.Message != "bob too" {
		t.Fatalf("alice got %s", m.Raw)
	}
	// And bob leaving with 1000 is bob's leave only.
	b1.Close(websocket.StatusNormalClosure)
	exit(t, neu, "lobby", "bob", "s1")
	quiet(t, neu, "bob's close")
}
