package gateway_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// TestTwoGatewaysChatAndPresence spreads alice and bob over two gateways on one NATS:
// messages cross, presence counts sessions over both, users and rooms see both.
func TestTwoGatewaysChatAndPresence(t *testing.T) {
	g1, g2, _ := gw2(t, gateway.Config{Grace: time.Second})
	a1, a2 := connect(t, g1, "alice", "a1"), connect(t, g2, "alice", "a2")
	b1 := connect(t, g2, "bob", "b1")
	join(t, a1, "lobby")
	join(t, b1, "lobby")
	event(t, a1, "lobby", "join", "bob", "b1")
	j := join(t, a2, "lobby")
	if last := j.Events[len(j.Events)-1]; last.Type != "add" || last.SessionID != "a2" {
		t.Fatalf("alice's second session on another gateway: %s", j.Raw)
	}
	event(t, a1, "lobby", "add", "alice", "a2")
	event(t, b1, "lobby", "add", "alice", "a2")

	ack := post(t, a1, "lobby", "across")
	for _, c := range []*chattest.Client{a2, b1} {
		if m := c.Until("message", nil); m.ID != ack.ID || m.Message != "across" {
			t.Fatalf("got %s, ack %s", m.Raw, ack.Raw)
		}
	}
	ack = post(t, b1, "lobby", "back")
	if m := a1.Until("message", nil); m.ID != ack.ID || m.Message != "back" {
		t.Fatalf("a1 got %s", m.Raw)
	}
	for _, c := range []*chattest.Client{a1, b1} {
		eventually(t, c, "users", func(m chattest.Msg) bool {
			u := usersOf(t, m)
			return len(u) == 2 && u["alice"] == 2 && u["bob"] == 1
		})
		eventually(t, c, "rooms", func(m chattest.Msg) bool { return roomsOf(t, m)["lobby"].Users == 2 })
	}
	// Leaving on one gateway is remove while the other session stays.
	a1.Close(websocket.StatusNormalClosure)
	event(t, b1, "lobby", "remove", "alice", "a1")
	a2.Until("remove", func(m chattest.Msg) bool { return m.SessionID == "a1" })
	a2.WS.CloseNow() // dropped: gw-2 (or gw-1) expires it after the grace period
	exit(t, b1, "lobby", "alice", "a2")
}

// TestTwoGatewaysPrivateAndTakeOver checks the unsolicited joined of a peer on the other
// gateway and a session take-over across gateways.
func TestTwoGatewaysPrivateAndTakeOver(t *testing.T) {
	g1, g2, _ := gw2(t, gateway.Config{})
	a1, b1 := connect(t, g1, "alice", "a1"), connect(t, g2, "bob", "b1")
	carol := connect(t, g2, "carol", "c1")
	p := do(t, a1, "joined", map[string]any{"type": "private", "userId": "bob"})
	u := b1.Until("joined", nil)
	if u.ChatroomID != p.ChatroomID || !u.Private || u.Peer != "alice" {
		t.Fatalf("bob's unsolicited joined %s (alice's %s)", u.Raw, p.Raw)
	}
	doErr(t, carol, "forbidden", map[string]any{"type": "join", "chatroomId": p.ChatroomID})
	ack := post(t, a1, p.ChatroomID, "psst")
	if m := b1.Until("message", nil); m.ID != ack.ID {
		t.Fatalf("bob got %s", m.Raw)
	}
	join(t, carol, "lobby")
	join(t, b1, "lobby")
	event(t, carol, "lobby", "join", "bob", "b1")

	// bob's session moves to gw-1 while still connected to gw-2.
	nb := connect(t, g1, "bob", "b1")
	if code := b1.Closed(); code != 4001 {
		t.Fatalf("old connection closed with %d", code)
	}
	join(t, nb, "lobby")
	join(t, nb, p.ChatroomID)
	post(t, nb, "lobby", "moved")
	if m := event(t, carol, "lobby", "message", "bob", ""); m.Message != "moved" {
		t.Fatalf("carol got %s", m.Raw)
	}
	for _, m := range upto(t, carol) {
		if m.UserID == "bob" {
			t.Fatalf("take-over emitted %s", m.Raw)
		}
	}
	ack = post(t, nb, p.ChatroomID, "from gw-1")
	if m := a1.Until("message", func(m chattest.Msg) bool { return m.UserID == "bob" }); m.ID != ack.ID {
		t.Fatalf("alice got %s", m.Raw)
	}
}

// TestTwoGatewaysRaceFirstJoin makes two gateways add the first sessions of one user to the
// same rooms at the same moment: each room gets exactly one join.
func TestTwoGatewaysRaceFirstJoin(t *testing.T) {
	g1, g2, _ := gw2(t, gateway.Config{})
	a1, a2 := connect(t, g1, "alice", "a1"), connect(t, g2, "alice", "a2")
	const rooms = 20
	var wg sync.WaitGroup
	replies := make([][]chattest.Msg, 2)
	for i, c := range []*chattest.Client{a1, a2} {
		for r := range rooms {
			c.Send(map[string]any{"type": "join", "chatroomId": fmt.Sprintf("race-%d", r), "ref": fmt.Sprintf("race-%d", r)})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for len(replies[i]) < rooms {
				m := c.Next()
				if m.Type == "joined" {
					replies[i] = append(replies[i], m)
				}
			}
		}()
	}
	wg.Wait()
	for r := range rooms {
		room := fmt.Sprintf("race-%d", r)
		evs := hist(t, a1, room, "limit", 10)
		var got []string
		for _, e := range evs {
			got = append(got, e.Type+"/"+e.SessionID)
		}
		joins := 0
		for _, e := range evs {
			if e.Type == "join" {
				joins++
			}
		}
		switch {
		case len(evs) != 2 || joins != 1 || evs[0].SessionID == evs[1].SessionID:
			t.Errorf("%s: want exactly one join and one add, got %v", room, got)
		case evs[0].Type != "join":
			// The member-set compare-and-set decides join/add, but the two appends that
			// follow it are not ordered: the add can be stored before the join.
			t.Errorf("%s: add stored before the join: %v", room, got)
		}
	}
	for i, rs := range replies {
		for _, j := range rs {
			last := j.Events[len(j.Events)-1]
			if last.UserID != "alice" || last.SessionID != fmt.Sprintf("a%d", i+1) {
				t.Errorf("joined does not end with own event: %s", j.Raw)
			}
		}
	}
}
