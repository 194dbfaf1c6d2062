package gateway_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/natsd"
	"github.com/coder/websocket"
)

// A session that leaves (1000) while NATS is away for longer than a close waits has its
// leave stored once NATS is back: the gateway keeps trying in the background instead of
// leaving the session counted in its rooms for ever (the randomized checker found a user
// counted in six rooms after it quit during a NATS node kill).
func TestLeaveAtCloseIsStoredWhenNATSComesBack(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ns := chattest.NATSAt(t, dir)
	addr := ns.Addr().(*net.TCPAddr).String()
	g := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-close"})
	alice := connect(t, g, "alice", "a1")
	join(t, alice, "lobby")

	ns.Shutdown()
	ns.WaitForShutdown()
	alice.Close(websocket.StatusNormalClosure)
	// The close tries for 10 s, then hands the update to the background.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitMetric(t, ctx, g.HTTP(), "chat_presence_deferred_total", 1)

	back, err := natsd.Start(natsd.Config{Addr: addr, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Shutdown(); back.WaitForShutdown() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		var leaves int
		var h struct{ Events []chattest.Msg }
		if status, _ := chattest.GetJSON(t, g.HTTP()+"/history?chatroomId=lobby", nil, &h); status == http.StatusOK {
			for _, ev := range h.Events {
				if ev.Type == "leave" && ev.UserID == "alice" {
					leaves++
				}
			}
		}
		if leaves == 1 {
			break
		}
		if leaves > 1 || time.Now().After(deadline) {
			t.Fatalf("alice's leave stored %d times after NATS came back: %v", leaves, h.Events)
		}
		pause()
	}
	// And nobody counts alice any more.
	bob := connect(t, g, "bob", "b1")
	j := join(t, bob, "lobby")
	if strings.Contains(string(j.Raw), `"type":"join","userId":"alice"`) && !strings.Contains(string(j.Raw), `"type":"leave","userId":"alice"`) {
		t.Fatalf("bob's joined: %s", j.Raw)
	}
	if got := usersOf(t, do(t, bob, "users", map[string]any{"type": "users"})); got["alice"] != 0 {
		t.Fatalf("users after alice left: %v", got)
	}
}
