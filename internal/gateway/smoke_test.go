package gateway_test

import (
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

func TestSmoke(t *testing.T) {
	ns := chattest.NATS(t)
	g := chattest.StartGateway(t, ns, gateway.Config{})
	alice := chattest.Dial(t, g.URL(), "alice", "a1")
	w := alice.Expect("welcome")
	if w.UserID != "alice" || w.SessionID != "a1" || w.GatewayID != "gw-test" {
		t.Fatalf("welcome: %s", w.Raw)
	}
	j := alice.Join("lobby")
	if len(j.Events) != 1 || j.Events[0].Type != "join" || j.Events[0].UserID != "alice" {
		t.Fatalf("joined: %s", j.Raw)
	}
	bob := chattest.Dial(t, g.URL(), "bob", "b1")
	bob.Expect("welcome")
	jb := bob.Join("lobby")
	if n := len(jb.Events); n != 2 || jb.Events[1].Type != "join" || jb.Events[1].UserID != "bob" {
		t.Fatalf("bob joined: %s", jb.Raw)
	}
	ev := alice.Until("join", nil)
	if ev.UserID != "bob" || ev.ID != jb.Events[1].ID {
		t.Fatalf("alice saw %s", ev.Raw)
	}
	alice.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "hi", "ref": "k1"})
	got := bob.Until("message", nil)
	if got.Message != "hi" || got.UserID != "alice" {
		t.Fatalf("bob got %s", got.Raw)
	}
	ack := alice.Until("ack", nil)
	if ack.ID != got.ID || ack.Ref != "k1" {
		t.Fatalf("ack %s vs %s", ack.Raw, got.Raw)
	}
}
