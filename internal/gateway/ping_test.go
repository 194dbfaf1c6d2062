package gateway_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/poll"
)

// TestPingCutsOnlyPeersThatDoNotAnswer checks the keepalive: a client that reads (and so
// answers pings) stays connected however idle, and one that reads nothing — no pong ever
// comes back — is cut.
func TestPingCutsOnlyPeersThatDoNotAnswer(t *testing.T) {
	// An interval long enough that a reading client's pong comes back within it on a busy
	// machine under -race: 200 ms cut the reading client about one run in ten there, and
	// 1 s once in CI while the machine also built the gateway twice (a ping's write, which
	// coder/websocket gives half the interval, or its pong, was held up that long).
	every := 2 * time.Second
	g := gw(t, gateway.Config{PingInterval: every})
	alive := connect(t, g, "alice", "a1") // its client reads all the time

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deaf, _, err := chattest.DialRaw(ctx, g.URL(), url.Values{"user": {"bob"}, "session": {"b1"}}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.CloseNow()
	waitFor(t, ctx, "the deaf client cut", func() bool { return metricValue(t, g, "chat_connections") == 1 })

	// Intervals later (the deaf client was cut within two) the reading client is still
	// served.
	time.Sleep(3 * every) // idle time is what is tested here, not a synchronisation
	if n := metricValue(t, g, "chat_connections"); n != 1 {
		t.Fatalf("%v connections open, want alice's only", n)
	}
	do(t, alive, "users", map[string]any{"type": "users"})
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	if err := poll.Until(ctx, 20*time.Millisecond, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
