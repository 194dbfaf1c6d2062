package gateway_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/protocol"
)

func TestWelcomeMakesASessionWhenNoneIsGiven(t *testing.T) {
	g := gw(t, gateway.Config{})
	c := chattest.Dial(t, g.URL(), "alice", "")
	w := c.Expect("welcome")
	if w.UserID != "alice" || w.GatewayID != "gw-1" || !protocol.ValidName(w.SessionID) {
		t.Fatalf("welcome %s", w.Raw)
	}
	c2 := connect(t, g, "alice", "")
	if w2 := do(t, c2, "users", map[string]any{"type": "users"}); w2.Type != "users" {
		t.Fatal(w2.Raw)
	}
}

// TestJoinReturnsLatestEvents checks the joined reply: the latest limit events, oldest
// first, ending with the session's own join or add; default 50; a second join answers again
// without a presence event.
func TestJoinReturnsLatestEvents(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice := connect(t, g, "alice", "a1")
	j := join(t, alice, "lobby")
	if !j.Recovered || j.Private || j.Peer != "" || len(j.Events) != 1 || j.Events[0].Type != "join" ||
		j.Events[0].UserID != "alice" || j.Events[0].SessionID != "a1" || j.Events[0].ChatroomID != "lobby" {
		t.Fatalf("first joined: %s", j.Raw)
	}
	var acks []uint64
	for i := range 60 {
		acks = append(acks, post(t, alice, "lobby", fmt.Sprintf("m%d", i)).ID)
	}
	bob := connect(t, g, "bob", "b1")
	all := join(t, bob, "lobby", "limit", 1000)
	if n := len(all.Events); n != 62 {
		t.Fatalf("limit 1000: %d events", n)
	}
	checkAscending(t, all.Events)
	if last := all.Events[61]; last.Type != "join" || last.UserID != "bob" || last.SessionID != "b1" {
		t.Fatalf("joined does not end with own join: %s", last.Raw)
	}
	if all.Events[0].ID != j.Events[0].ID || all.Events[1].ID != acks[0] || all.Events[1].Message != "m0" {
		t.Fatalf("joined does not start at the room's start: %s", all.Raw)
	}
	bobJoin := all.Events[61]
	event(t, alice, "lobby", "join", "bob", "b1")

	// Joining again: history as asked, no presence event.
	five := join(t, bob, "lobby", "limit", 5)
	if got := messages(five.Events); len(five.Events) != 5 || strings.Join(got, ",") != "m56,m57,m58,m59" || five.Events[4].ID != bobJoin.ID {
		t.Fatalf("limit 5: %s", five.Raw)
	}
	def := join(t, bob, "lobby")
	if len(def.Events) != 50 || def.Events[49].ID != bobJoin.ID || def.Events[0].Message != "m11" {
		t.Fatalf("default limit: %d events, first %s", len(def.Events), def.Events[0].Raw)
	}
	checkAscending(t, def.Events)
	one := join(t, bob, "lobby", "limit", 1)
	if len(one.Events) != 1 || one.Events[0].ID != bobJoin.ID {
		t.Fatalf("limit 1: %s", one.Raw)
	}
	// With since: everything after it, recovered.
	since := join(t, bob, "lobby", "since", acks[57])
	if got := messages(since.Events); !since.Recovered || strings.Join(got, ",") != "m58,m59" || len(since.Events) != 3 {
		t.Fatalf("since: %s", since.Raw)
	}
	// since with a limit smaller than what is missing: the latest limit, not recovered.
	gap := join(t, bob, "lobby", "since", acks[50], "limit", 2)
	if gap.Recovered || len(gap.Events) != 2 || gap.Events[0].Message != "m59" || gap.Events[1].ID != bobJoin.ID {
		t.Fatalf("since with a gap: %s", gap.Raw)
	}
	quiet(t, alice, "joins of a session already in the room")
	quiet(t, bob, "joins of a session already in the room")
	post(t, alice, "lobby", "after")
	if m := event(t, bob, "lobby", "message", "alice", ""); m.Message != "after" {
		t.Fatalf("live after rejoins: %s", m.Raw)
	}
	quiet(t, bob, "a live event comes once")
}

func checkAscending(t *testing.T, evs []chattest.Msg) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		if evs[i].ID <= evs[i-1].ID {
			t.Fatalf("ids not ascending at %d: %s after %s", i, evs[i].Raw, evs[i-1].Raw)
		}
	}
}

// TestLeave checks left, the leave event to others, and that nothing of the room comes
// after left.
func TestLeave(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice, bob := connect(t, g, "alice", "a1"), connect(t, g, "bob", "b1")
	join(t, alice, "lobby")
	join(t, bob, "lobby")
	event(t, alice, "lobby", "join", "bob", "b1")
	l := do(t, bob, "left", map[string]any{"type": "leave", "chatroomId": "lobby"})
	if l.ChatroomID != "lobby" {
		t.Fatalf("left %s", l.Raw)
	}
	event(t, alice, "lobby", "leave", "bob", "b1")
	post(t, alice, "lobby", "bob is gone")
	for _, m := range upto(t, bob) {
		if m.ChatroomID == "lobby" {
			t.Fatalf("bob got %s after left", m.Raw)
		}
	}
	doErr(t, bob, "not_member", map[string]any{"type": "message", "chatroomId": "lobby", "message": "hi"})
	// Leaving again, or a room never joined, is answered with left and emits nothing.
	do(t, bob, "left", map[string]any{"type": "leave", "chatroomId": "lobby"})
	do(t, bob, "left", map[string]any{"type": "leave", "chatroomId": "nowhere"})
	quiet(t, alice, "leaving twice emits nothing")
}

// TestMessageAckAndDelivery checks that the ack carries the event's id and that the event
// reaches every member, the sender included, with the protocol's fields.
func TestMessageAckAndDelivery(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice, bob := connect(t, g, "alice", "a1"), connect(t, g, "bob", "b1")
	join(t, alice, "lobby")
	join(t, bob, "lobby")
	event(t, alice, "lobby", "join", "bob", "b1")
	text := "héllo 世界 \"quoted\" \\ </script>"
	before := time.Now().Unix()
	ref := newRef("k")
	alice.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": text, "ref": ref})
	var ack, own chattest.Msg
	for ack.Type == "" || own.Type == "" { // the ack and the own copy may come in either order
		m := alice.Next()
		switch {
		case m.Ref == ref:
			ack = m
		case m.Type == "message":
			own = m
		}
	}
	got := event(t, bob, "lobby", "message", "alice", "")
	if ack.Type != "ack" || ack.ChatroomID != "lobby" || ack.ID != got.ID || own.ID != got.ID {
		t.Fatalf("ack %s, own %s, bob's %s", ack.Raw, own.Raw, got.Raw)
	}
	if got.Message != text || got.SessionID != "" || got.ChatroomID != "lobby" {
		t.Fatalf("event %s", got.Raw)
	}
	var ev struct{ UnixTime int64 }
	mustUnmarshal(t, got.Raw, &ev)
	if ev.UnixTime < before-1 || ev.UnixTime > time.Now().Unix()+1 {
		t.Fatalf("unixTime %d", ev.UnixTime)
	}
	// Without a ref: an ack all the same.
	alice.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "no ref"})
	a := alice.Until("ack", nil)
	if a.Ref != "" || a.ID <= got.ID {
		t.Fatalf("ack without ref %s", a.Raw)
	}
	if m := event(t, bob, "lobby", "message", "alice", ""); m.ID != a.ID {
		t.Fatalf("bob got %s, ack %s", m.Raw, a.Raw)
	}
	quiet(t, bob, "one copy of each message")
}

// TestPrivateRooms checks private: one room per pair whoever starts it, the peer's
// unsolicited joined, and forbidden for anyone else.
func TestPrivateRooms(t *testing.T) {
	g := gw(t, gateway.Config{})
	a1, a2 := connect(t, g, "alice", "a1"), connect(t, g, "alice", "a2")
	b1 := connect(t, g, "bob", "b1")
	carol := connect(t, g, "carol", "c1")

	p := do(t, a1, "joined", map[string]any{"type": "private", "userId": "bob"})
	room := p.ChatroomID
	if !p.Private || p.Peer != "bob" || !strings.HasPrefix(room, "dm-") || !protocol.ValidName(room) {
		t.Fatalf("private reply %s", p.Raw)
	}
	if last := p.Events[len(p.Events)-1]; last.Type != "join" || last.UserID != "alice" || last.SessionID != "a1" {
		t.Fatalf("private joined %s", p.Raw)
	}
	u := b1.Until("joined", nil)
	if u.ChatroomID != room || !u.Private || u.Peer != "alice" || u.Ref != "" {
		t.Fatalf("bob's unsolicited joined %s", u.Raw)
	}
	if last := u.Events[len(u.Events)-1]; last.Type != "join" || last.UserID != "bob" || last.SessionID != "b1" {
		t.Fatalf("bob's joined %s", u.Raw)
	}
	// The notice goes out before alice's own join: bob's join may come before hers.
	if !slices.ContainsFunc(p.Events, func(e chattest.Msg) bool { return e.UserID == "bob" }) {
		event(t, a1, room, "join", "bob", "b1")
	}

	// The same room whoever starts it; alice's other session, not in it yet, is joined to it
	// as bob's peer.
	pb, skipped := doAll(t, b1, map[string]any{"type": "private", "userId": "alice"})
	if pb.Type != "joined" || pb.ChatroomID != room || !pb.Private || pb.Peer != "alice" {
		t.Fatalf("bob's private %s", pb.Raw)
	}
	ua := a2.Until("joined", nil)
	if ua.ChatroomID != room || !ua.Private || ua.Peer != "bob" || ua.Ref != "" {
		t.Fatalf("a2's unsolicited joined %s", ua.Raw)
	}
	isAdd := func(e chattest.Msg) bool { return e.Type == "add" && e.UserID == "alice" && e.SessionID == "a2" }
	if !slices.ContainsFunc(append(skipped, pb.Events...), isAdd) {
		event(t, b1, room, "add", "alice", "a2")
	}
	// Joining by id: private, with the peer, and no presence event.
	ja := join(t, a2, room)
	if !ja.Private || ja.Peer != "bob" {
		t.Fatalf("a2 joined %s", ja.Raw)
	}

	ack := post(t, a1, room, "psst")
	if m := b1.Until("message", nil); m.ID != ack.ID || m.Message != "psst" {
		t.Fatalf("bob got %s", m.Raw)
	}
	// Anyone else: forbidden to join, read or post; no trace of them in the room.
	doErr(t, carol, "forbidden", map[string]any{"type": "join", "chatroomId": room})
	doErr(t, carol, "forbidden", map[string]any{"type": "history", "chatroomId": room})
	doErr(t, carol, "forbidden", map[string]any{"type": "message", "chatroomId": room, "message": "let me in"})
	// Joining a dm- id that is not a private room of this user.
	doErr(t, a1, "forbidden", map[string]any{"type": "join", "chatroomId": "dm-0123456789abcdef0123"})
	doErr(t, carol, "forbidden", map[string]any{"type": "join", "chatroomId": "dm-nothing"})
	for _, e := range hist(t, a1, room) {
		if e.UserID == "carol" {
			t.Fatalf("carol left a trace: %s", e.Raw)
		}
	}
	r := roomsOf(t, eventually(t, carol, "rooms", func(chattest.Msg) bool { return true }))
	if _, ok := r[room]; ok {
		t.Fatalf("carol's rooms list the private room")
	}
	ra := roomsOf(t, eventually(t, a1, "rooms", func(m chattest.Msg) bool { return roomsOf(t, m)[room].Users == 2 }))
	if got := ra[room]; !got.Private || got.Peer != "bob" {
		t.Fatalf("alice's rooms: %+v", got)
	}
	// Leaving is allowed and the room stays.
	do(t, b1, "left", map[string]any{"type": "leave", "chatroomId": room})
	event(t, a1, room, "leave", "bob", "b1")
	rb := roomsOf(t, do(t, b1, "rooms", map[string]any{"type": "rooms"}))
	if got := rb[room]; !got.Private || got.Peer != "alice" {
		t.Fatalf("bob's rooms after leaving: %+v", rb)
	}
	join(t, b1, room)
}

// TestHistoryPagesBackwards checks history: the limit events just before before, oldest
// first.
func TestHistoryPagesBackwards(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice := connect(t, g, "alice", "a1")
	joinID := join(t, alice, "lobby").Events[0].ID
	ids := make([]uint64, 60)
	for i := range ids {
		ids[i] = post(t, alice, "lobby", fmt.Sprintf("m%d", i)).ID
	}
	want := func(from, to int) string { // messages from..to-1
		var s []string
		for i := from; i < to; i++ {
			s = append(s, fmt.Sprintf("m%d", i))
		}
		return strings.Join(s, ",")
	}
	check := func(evs []chattest.Msg, w string) {
		t.Helper()
		checkAscending(t, evs)
		if got := strings.Join(messages(evs), ","); got != w {
			t.Fatalf("history %s, want %s", got, w)
		}
	}
	check(hist(t, alice, "lobby"), want(10, 60)) // default 50
	check(hist(t, alice, "lobby", "limit", 10), want(50, 60))
	check(hist(t, alice, "lobby", "limit", 10, "before", ids[50]), want(40, 50))
	check(hist(t, alice, "lobby", "limit", 1, "before", ids[1]), want(0, 1))
	first := hist(t, alice, "lobby", "limit", 1000, "before", ids[10])
	check(first, want(0, 10))
	if len(first) != 11 || first[0].ID != joinID || first[0].Type != "join" {
		t.Fatalf("the room's first page: %v", first)
	}
	if evs := hist(t, alice, "lobby", "before", joinID); len(evs) != 0 {
		t.Fatalf("before the first event: %v", evs)
	}
	if evs := hist(t, alice, "lobby", "before", 0); len(evs) != 0 {
		t.Fatalf("before 0: %v", evs)
	}
	check(hist(t, alice, "lobby", "before", ids[59]+1000, "limit", 3), want(57, 60))
	// A public room needs no membership to be read; a room with no events reads empty.
	bob := connect(t, g, "bob", "b1")
	check(hist(t, bob, "lobby", "limit", 2), want(58, 60))
	h := do(t, bob, "history", map[string]any{"type": "history", "chatroomId": "empty"})
	if len(h.Events) != 0 || !strings.Contains(string(h.Raw), `"events":[]`) {
		t.Fatalf("empty room %s", h.Raw)
	}
}

// TestUsersAndRooms checks the users and rooms replies: sessions per user, distinct users
// per public room, and the user's own private rooms with their peer.
func TestUsersAndRooms(t *testing.T) {
	g := gw(t, gateway.Config{})
	a1, a2 := connect(t, g, "alice", "a1"), connect(t, g, "alice", "a2")
	b1 := connect(t, g, "bob", "b1")
	eventually(t, b1, "users", func(m chattest.Msg) bool {
		u := usersOf(t, m)
		return len(u) == 2 && u["alice"] == 2 && u["bob"] == 1
	})
	join(t, a1, "lobby")
	join(t, a2, "lobby")
	join(t, a2, "side")
	join(t, b1, "lobby")
	dm := do(t, a1, "joined", map[string]any{"type": "private", "userId": "bob"}).ChatroomID
	carol := connect(t, g, "carol", "c1")
	m := eventually(t, a1, "rooms", func(m chattest.Msg) bool {
		r := roomsOf(t, m)
		return r["lobby"].Users == 2 && r["side"].Users == 1 && r[dm].Users == 2
	})
	r := roomsOf(t, m)
	if len(r) != 3 || r["lobby"].Private || r["side"].Private || !r[dm].Private || r[dm].Peer != "bob" {
		t.Fatalf("alice's rooms %s", m.Raw)
	}
	rc := roomsOf(t, eventually(t, carol, "rooms", func(m chattest.Msg) bool { return roomsOf(t, m)["lobby"].Users == 2 }))
	if len(rc) != 2 {
		t.Fatalf("carol's rooms %v", rc)
	}
	// Rooms stay when nobody is in them.
	for _, c := range []*chattest.Client{a1, a2, b1} {
		do(t, c, "left", map[string]any{"type": "leave", "chatroomId": "lobby"})
	}
	do(t, a2, "left", map[string]any{"type": "leave", "chatroomId": "side"})
	eventually(t, carol, "rooms", func(m chattest.Msg) bool {
		r := roomsOf(t, m)
		return len(r) == 2 && r["lobby"].Users == 0 && r["side"].Users == 0
	})
	a2.Close(1000)
	eventually(t, carol, "users", func(m chattest.Msg) bool {
		u := usersOf(t, m)
		return len(u) == 3 && u["alice"] == 1 && u["bob"] == 1 && u["carol"] == 1
	})
}

// TestOnlineOffline checks that online and offline reach every session, in a room or not,
// once per user: for the first session to connect and the last to leave.
func TestOnlineOffline(t *testing.T) {
	g := gw(t, gateway.Config{})
	carol := connect(t, g, "carol", "c1")
	inRoom := connect(t, g, "erin", "e1")
	join(t, inRoom, "lobby")
	a1 := connect(t, g, "alice", "a1")
	for _, c := range []*chattest.Client{carol, inRoom} {
		if n := notice(t, c, "online", "alice"); n.ID != 0 || n.ChatroomID != "" {
			t.Fatalf("online %s", n.Raw)
		}
	}
	a2 := connect(t, g, "alice", "a2")
	do(t, a2, "users", map[string]any{"type": "users"}) // a2 is fully connected
	// Notices of one gateway go out in order: a second online of alice would come before
	// dave's.
	dave := connect(t, g, "dave", "d1")
	noneBefore(t, carol, "online", "dave", "alice")
	a2.Close(1000)
	a2.Closed()
	dave.Close(1000)
	noneBefore(t, carol, "offline", "dave", "alice")
	a1.Close(1000)
	for _, c := range []*chattest.Client{carol, inRoom} {
		notice(t, c, "offline", "alice")
	}
}

// noneBefore waits for a notice of user and fails if a notice of other came before it.
func noneBefore(t *testing.T, c *chattest.Client, typ, user, other string) {
	t.Helper()
	for {
		m := c.Next()
		if (m.Type == "online" || m.Type == "offline") && m.UserID == other {
			t.Fatalf("unexpected %s before %s of %s", m.Raw, typ, user)
		}
		if m.Type == typ && m.UserID == user {
			return
		}
	}
}
