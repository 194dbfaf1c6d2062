package gateway_test

import (
	"context"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// TestShutdownSendsCloseThen1001 checks that Shutdown gives every session a close event
// and then close code 1001, in a room or not.
func TestShutdownSendsCloseThen1001(t *testing.T) {
	g := gw(t, gateway.Config{})
	clients := []*chattest.Client{connect(t, g, "alice", "a1"), connect(t, g, "alice", "a2"), connect(t, g, "bob", "b1")}
	join(t, clients[0], "lobby")
	join(t, clients[2], "lobby")
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(ctx) }()
	for _, c := range clients {
		m := c.Until("close", nil)
		var ev map[string]any
		mustUnmarshal(t, m.Raw, &ev)
		if ut, ok := ev["unixTime"].(float64); !ok || ut <= 0 || len(ev) != 2 {
			t.Fatalf("close event %s", m.Raw)
		}
		if rest := c.Pending(); len(rest) != 0 {
			t.Fatalf("after close: %s", rest[0].Raw)
		}
		if code := c.Closed(); code != websocket.StatusGoingAway {
			t.Fatalf("closed with %d", code)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// A draining gateway takes no new sessions.
	if c, err := chattest.DialQuery(t, g.URL(), map[string][]string{"user": {"carol"}}); err == nil {
		if code := c.Closed(); code == -1 {
			t.Fatalf("a new connection was served after Shutdown")
		}
	}
}
