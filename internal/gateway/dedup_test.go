package gateway_test

import (
	"slices"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// TestMessageDedup checks that a message sent again with the same ref by the same session
// is stored once (the first text wins) and acked with the same id, over the same connection
// and over a new one; other sessions with the same ref post their own messages.
func TestMessageDedup(t *testing.T) {
	g := gw(t, gateway.Config{})
	carol := connect(t, g, "carol", "c1")
	join(t, carol, "lobby")
	a1 := connect(t, g, "alice", "a1")
	join(t, a1, "lobby")
	send := func(c *chattest.Client, text, ref string) chattest.Msg {
		t.Helper()
		c.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": text, "ref": ref})
		m, _ := await(t, c, ref)
		if m.Type != "ack" || m.ID == 0 {
			t.Fatalf("%q: %s", text, m.Raw)
		}
		return m
	}
	first := send(a1, "hello", "dup-1")
	again := send(a1, "hello edited", "dup-1")
	if again.ID != first.ID {
		t.Fatalf("acks %d and %d", first.ID, again.ID)
	}
	a1.Close(websocket.StatusGoingAway)
	a1.Closed()
	a1 = connect(t, g, "alice", "a1")
	join(t, a1, "lobby")
	if third := send(a1, "hello", "dup-1"); third.ID != first.ID {
		t.Fatalf("after reconnect: ack %d, first %d", third.ID, first.ID)
	}
	// Same ref, other sessions (of the same user and of another user with the same session
	// id): other messages.
	a2 := connect(t, g, "alice", "a2")
	join(t, a2, "lobby")
	bob := connect(t, g, "bob", "a1")
	join(t, bob, "lobby")
	other := send(a2, "hello", "dup-1")
	bobs := send(bob, "hello", "dup-1")
	if other.ID == first.ID || bobs.ID == first.ID || bobs.ID == other.ID {
		t.Fatalf("ids %d %d %d", first.ID, other.ID, bobs.ID)
	}
	// A different ref is a different message.
	if d := send(a1, "hello", "dup-2"); d.ID == first.ID {
		t.Fatalf("different ref deduplicated")
	}
	evs := hist(t, a1, "lobby", "limit", 1000)
	got := messages(evs)
	if len(got) != 4 || got[0] != "hello" {
		t.Fatalf("stored %q", got)
	}
	// Live: carol, in the room throughout, saw each stored message once.
	marker := post(t, bob, "lobby", "marker")
	var live []uint64
	for {
		m := carol.Until("message", nil)
		if slices.Contains(live, m.ID) {
			t.Fatalf("message %d came twice", m.ID)
		}
		live = append(live, m.ID)
		if m.ID == marker.ID {
			break
		}
	}
	if len(live) != 5 {
		t.Fatalf("carol saw %d messages: %v", len(live), live)
	}
}

// TestRefReusedInAnotherRoomIsAnotherMessage checks that deduplication is per room: a client
// that numbers its refs per connection and reuses one in another room has both messages
// stored, each acked with its own id and delivered to its own room.
func TestRefReusedInAnotherRoomIsAnotherMessage(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice := connect(t, g, "alice", "a1")
	join(t, alice, "roomA")
	join(t, alice, "roomB")
	ack := func(room, text string) chattest.Msg {
		t.Helper()
		alice.Send(map[string]any{"type": "message", "chatroomId": room, "message": text, "ref": "k1"})
		m, _ := await(t, alice, "k1")
		if m.Type != "ack" || m.ChatroomID != room {
			t.Fatalf("%s: %s", room, m.Raw)
		}
		return m
	}
	a, b := ack("roomA", "to A"), ack("roomB", "to B")
	if a.ID == b.ID {
		t.Fatalf("both acked with id %d", a.ID)
	}
	if got := messages(hist(t, alice, "roomB")); !slices.Equal(got, []string{"to B"}) {
		t.Fatalf("roomB holds %q", got)
	}
	if got := messages(hist(t, alice, "roomA")); !slices.Equal(got, []string{"to A"}) {
		t.Fatalf("roomA holds %q", got)
	}
}
