package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// dialOrigin dials /ws as alice with an Origin header and returns the HTTP status of the
// answer (101 when upgraded).
func dialOrigin(t *testing.T, g *chattest.Gateway, origin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, resp, err := chattest.DialRaw(ctx, g.URL(), url.Values{"user": {"alice"}}, h, 0)
	if err != nil {
		if resp == nil {
			t.Fatalf("origin %q: %v", origin, err)
		}
		return resp.StatusCode
	}
	ws.Close(websocket.StatusNormalClosure, "")
	return resp.StatusCode
}

func TestOriginChecks(t *testing.T) {
	t.Parallel()
	ns := chattest.NATS(t)
	same := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-same"})
	listed := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-listed", AllowedOrigins: []string{"chat.example.com", "*.chat.example.org"}})
	for _, tc := range []struct {
		g      *chattest.Gateway
		origin string
		status int
	}{
		{same, "", 101}, // not a browser
		{same, same.HTTP(), 101},
		{same, "http://evil.example", 403},
		{same, "null", 403},
		{same, "http://chat.example.com", 403},
		{same, listed.HTTP(), 403}, // another port is another origin
		{listed, "http://chat.example.com", 101},
		{listed, "https://chat.example.com", 101},
		{listed, "https://eu.chat.example.org", 101},
		{listed, listed.HTTP(), 101},
		{listed, "http://evil.example", 403},
		{listed, "http://chat.example.com.evil.example", 403},
		{listed, "http://evilchat.example.com", 403},
		{listed, "http://chat.example.org", 403},
	} {
		if got := dialOrigin(t, tc.g, tc.origin); got != tc.status {
			t.Errorf("%s with Origin %q: %d, want %d", tc.g.ID(), tc.origin, got, tc.status)
		}
	}
}

// ready dials user and waits until the gateway serves its commands (it counts the
// connection from then on).
func ready(t *testing.T, g *chattest.Gateway, user, session string) *chattest.Client {
	t.Helper()
	c := chattest.Dial(t, g.URL(), user, session)
	c.Expect("welcome")
	if m := c.Call(map[string]any{"type": "users"}); m.Type != "users" {
		t.Fatalf("%s/%s: %s", user, session, m.Raw)
	}
	return c
}

func TestMaxConns(t *testing.T) {
	const max = 3
	g := openGW(t, gateway.Limits{MaxConns: max})
	var cs []*chattest.Client
	for _, u := range []string{"alice", "bob", "carol"} {
		cs = append(cs, ready(t, g, u, ""))
	}
	full := func() (int, []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		ws, resp, err := chattest.DialRaw(ctx, g.URL(), url.Values{"user": {"dave"}}, nil, 0)
		if err == nil {
			ws.Close(websocket.StatusNormalClosure, "")
			return resp.StatusCode, nil
		}
		if resp == nil {
			t.Fatal(err)
		}
		var b []byte
		if resp.Body != nil {
			b = make([]byte, 1024)
			n, _ := resp.Body.Read(b)
			b = b[:n]
		}
		return resp.StatusCode, b
	}
	status, body := full()
	var e chattest.HTTPError
	if status != http.StatusServiceUnavailable || json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		t.Fatalf("connection %d: %d %s", max+1, status, body)
	}
	for _, c := range cs {
		c.Mark() // unaffected
	}
	// A place frees up when a connection ends.
	cs[0].Close(websocket.StatusNormalClosure)
	cs[0].Closed()
	deadline := time.Now().Add(chattest.Timeout)
	for {
		status, body := full()
		if status == http.StatusSwitchingProtocols {
			break
		}
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after a close: %d %s", status, body)
		}
		<-time.After(20 * time.Millisecond)
	}
}

func TestMaxConnsPerUser(t *testing.T) {
	g := openGW(t, gateway.Limits{MaxConnsPerUser: 2})
	a1 := ready(t, g, "alice", "a1")
	a2 := ready(t, g, "alice", "a2")
	b1 := ready(t, g, "bob", "b1")
	a3 := chattest.Dial(t, g.URL(), "alice", "a3")
	for {
		m := a3.Next()
		if m.Type == "error" {
			if m.Code != "unavailable" {
				t.Fatalf("third connection: %s", m.Raw)
			}
			break
		}
		if m.Type != "welcome" {
			t.Fatalf("third connection: %s", m.Raw)
		}
	}
	if got := a3.Closed(); got != websocket.StatusTryAgainLater {
		t.Fatalf("third connection closed with %d, want 1013", got)
	}
	for _, c := range []*chattest.Client{a1, a2, b1} {
		c.Mark()
	}
	if m := b1.Call(map[string]any{"type": "users"}); usersCount(t, m)["alice"] != 2 {
		t.Fatalf("users after a refused connection: %s", m.Raw)
	}
	ready(t, g, "bob", "b2") // other users are not limited by alice
}

// A session that reconnects while its old connection is still open replaces it; at the
// per-user limit too, it is not an extra connection.
func TestMaxConnsPerUserLetsASessionReconnect(t *testing.T) {
	g := openGW(t, gateway.Limits{MaxConnsPerUser: 2})
	old := ready(t, g, "alice", "a1")
	ready(t, g, "alice", "a2")
	again := chattest.Dial(t, g.URL(), "alice", "a1")
	again.Expect("welcome")
	if m := again.Call(map[string]any{"type": "users"}); m.Type != "users" {
		t.Fatalf("reconnect at the limit: %s", m.Raw)
	}
	if got := old.Closed(); got != 4001 {
		t.Fatalf("old connection closed with %d, want 4001", got)
	}
}

func usersCount(t *testing.T, m chattest.Msg) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, raw := range m.Users {
		var u struct {
			UserID   string `json:"userId"`
			Sessions int    `json:"sessions"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			t.Fatal(err)
		}
		out[u.UserID] = u.Sessions
	}
	return out
}
