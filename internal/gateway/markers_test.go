package gateway_test

import (
	"fmt"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// readMarker sends read and returns the reply's marker, checking its shape.
func readMarker(t *testing.T, c *chattest.Client, room string, id uint64) uint64 {
	t.Helper()
	m := do(t, c, "read", map[string]any{"type": "read", "chatroomId": room, "id": id})
	if m.ChatroomID != room || m.Ref == "" {
		t.Fatalf("read reply %s", m.Raw)
	}
	return m.ID
}

// unreadOf returns the unread count of room in a rooms reply, -1 when it has none.
func unreadOf(t *testing.T, c *chattest.Client, room string) int {
	t.Helper()
	m := do(t, c, "rooms", map[string]any{"type": "rooms"})
	var rooms []struct {
		ChatroomID string `json:"chatroomId"`
		Unread     *int   `json:"unread"`
	}
	mustUnmarshal(t, []byte(`[`+joinRaw(m.Rooms)+`]`), &rooms)
	for _, r := range rooms {
		if r.ChatroomID == room {
			if r.Unread == nil {
				return -1
			}
			return *r.Unread
		}
	}
	t.Fatalf("%s not in %s", room, m.Raw)
	return 0
}

func joinRaw[T ~[]byte](raws []T) string {
	s := ""
	for i, r := range raws {
		if i > 0 {
			s += ","
		}
		s += string(r)
	}
	return s
}

// TestReadMarkers: a marker only moves forward, the user's sessions on both gateways
// agree, joined carries it, rooms counts unread messages of others exactly up to 100, and
// all of it survives a restart of the gateways.
func TestReadMarkers(t *testing.T) {
	g1, g2, ns := gw2(t, gateway.Config{})
	a1, a2 := connect(t, g1, "alice", "a1"), connect(t, g2, "alice", "a2")
	b := connect(t, g2, "bob", "b1")
	for _, c := range []*chattest.Client{a1, a2, b} {
		join(t, c, "lobby")
	}
	join(t, b, "quiet")
	var ids []uint64
	for i := range 3 {
		ids = append(ids, post(t, b, "lobby", fmt.Sprint("m", i)).ID)
	}
	if j := join(t, a1, "lobby"); j.ReadUpTo != 0 {
		t.Fatalf("readUpTo without a marker: %s", j.Raw)
	}
	if n := unreadOf(t, a1, "lobby"); n != -1 {
		t.Fatalf("unread without a marker: %d", n)
	}

	// Forward: the reply echoes ref, the other session hears it, the sender does not twice.
	if at := readMarker(t, a1, "lobby", ids[1]); at != ids[1] {
		t.Fatalf("marker at %d, want %d", at, ids[1])
	}
	if m := a2.Until("read", nil); m.ID != ids[1] || m.ChatroomID != "lobby" || m.Ref != "" {
		t.Fatalf("a2 got %s", m.Raw)
	}
	// Back: nothing moves, the reply tells where the marker is, nobody else hears.
	if at := readMarker(t, a2, "lobby", ids[0]); at != ids[1] {
		t.Fatalf("marker moved back to %d", at)
	}
	if at := readMarker(t, a2, "lobby", ids[2]); at != ids[2] {
		t.Fatalf("marker at %d, want %d", at, ids[2])
	}
	if m := a1.Until("read", nil); m.ID != ids[2] {
		t.Fatalf("a1 got %s", m.Raw)
	}
	for _, c := range []*chattest.Client{a1, a2, b} {
		for _, m := range upto(t, c) {
			if m.Type == "read" {
				t.Fatalf("unexpected %s", m.Raw)
			}
		}
	}
	// Beyond the room's newest event: the newest.
	last := post(t, b, "lobby", "newest").ID
	if at := readMarker(t, a1, "lobby", last+1000); at != last {
		t.Fatalf("marker beyond the room at %d, want %d", at, last)
	}
	a2.Until("read", func(m chattest.Msg) bool { return m.ID == last })
	if j := join(t, a2, "lobby"); j.ReadUpTo != last {
		t.Fatalf("joined readUpTo %d, want %d", j.ReadUpTo, last)
	}
	doErr(t, a1, "not_member", map[string]any{"type": "read", "chatroomId": "quiet", "id": 1})

	// Unread: bob's messages count, alice's own and presence events do not.
	for i := range 5 {
		post(t, b, "lobby", fmt.Sprint("new", i))
	}
	post(t, a1, "lobby", "mine")
	connect(t, g1, "carol", "c1").Join("lobby")
	for _, c := range []*chattest.Client{a1, a2} {
		if n := unreadOf(t, c, "lobby"); n != 5 {
			t.Fatalf("unread %d, want 5", n)
		}
	}
	for i := range 94 {
		post(t, b, "lobby", fmt.Sprint("more", i))
	}
	if n := unreadOf(t, a2, "lobby"); n != 99 {
		t.Fatalf("unread %d, want 99", n)
	}
	post(t, b, "lobby", "hundredth")
	if n := unreadOf(t, a1, "lobby"); n != 100 {
		t.Fatalf("unread %d, want 100", n)
	}
	for i := range 30 {
		post(t, b, "lobby", fmt.Sprint("over", i))
	}
	if n := unreadOf(t, a1, "lobby"); n != 100 {
		t.Fatalf("unread %d, want 100 (capped)", n)
	}
	top := post(t, b, "lobby", "top").ID

	// Restart both gateways: markers live in NATS.
	g1.Close()
	g2.Close()
	g3 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-3"})
	a3 := connect(t, g3, "alice", "a3")
	if n := unreadOf(t, a3, "lobby"); n != 100 {
		t.Fatalf("after a restart: unread %d, want 100", n)
	}
	if j := join(t, a3, "lobby"); j.ReadUpTo != last {
		t.Fatalf("after a restart: readUpTo %d, want %d", j.ReadUpTo, last)
	}
	if at := readMarker(t, a3, "lobby", top); at != top {
		t.Fatalf("marker at %d, want %d", at, top)
	}
	if n := unreadOf(t, a3, "lobby"); n != 0 {
		t.Fatalf("unread %d after reading all", n)
	}
}
