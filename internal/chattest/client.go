package chattest

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/coder/websocket"
)

// Timeout bounds every wait of a test client.
var Timeout = 15 * time.Second

// Msg is one object a gateway sent, decoded loosely, with its raw JSON.
type Msg = chatclient.Msg

// Client is a chatclient.Conn for a test goroutine: it keeps every object the gateway sends
// for the test to take in order with Next and Expect, and fails the test instead of
// returning errors. A chatclient.Checker watches the connection; what it finds wrong
// (duplicates, ids going backwards, a joined reply delivered again live...) fails the test
// when it ends.
type Client struct {
	*chatclient.Conn
	t     testing.TB
	Check *chatclient.Checker
}

// Dial connects user with session (empty: let the gateway pick) to a gateway's /ws URL.
func Dial(t testing.TB, wsURL, user, session string) *Client {
	t.Helper()
	c, err := DialQuery(t, wsURL, url.Values{"user": {user}, "session": {session}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// DialQuery connects with raw query parameters.
func DialQuery(t testing.TB, wsURL string, q url.Values) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	check := chatclient.NewChecker(chatclient.CheckerConfig{User: q.Get("user"), Session: q.Get("session")})
	conn, err := chatclient.DialQuery(ctx, wsURL, q, chatclient.Options{Queue: 1 << 16, Checker: check})
	if err != nil {
		return nil, err
	}
	c := &Client{Conn: conn, t: t, Check: check}
	// The cleanup holds the socket and the checker, not the Conn: a finished test is kept
	// until its package's tests end, and the Conn's queue is megabytes.
	ws := conn.WS
	t.Cleanup(func() {
		ws.CloseNow()
		for _, p := range check.Problems() {
			t.Errorf("chattest: %s", p)
		}
	})
	return c, nil
}

// Send sends one command.
func (c *Client) Send(cmd any) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Conn.Send(ctx, cmd); err != nil {
		c.t.Fatalf("send %v: %v", cmd, err)
	}
}

// SendRaw sends one text frame as is.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Conn.SendRaw(ctx, b); err != nil {
		c.t.Fatalf("send %s: %v", b, err)
	}
}

// Next returns the next object from the gateway.
func (c *Client) Next() Msg {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	m, err := c.Conn.Next(ctx)
	if err != nil {
		c.t.Fatalf("waiting for the gateway: %v", err)
	}
	return m
}

// Expect returns the next object, failing unless it has the given type.
func (c *Client) Expect(typ string) Msg {
	c.t.Helper()
	m := c.Next()
	if m.Type != typ {
		c.t.Fatalf("want %q, got %s", typ, m.Raw)
	}
	return m
}

// Until skips objects until one of the given type arrives and returns it.
func (c *Client) Until(typ string, match func(Msg) bool) Msg {
	c.t.Helper()
	for {
		m := c.Next()
		if m.Type == typ && (match == nil || match(m)) {
			return m
		}
	}
}

// Closed waits for the connection to end and returns its close code (-1 if none).
func (c *Client) Closed() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.Done():
		return c.CloseCode()
	case <-time.After(Timeout):
		c.t.Fatalf("connection still open after %v", Timeout)
	}
	return -1
}

// Close closes the connection with code.
func (c *Client) Close(code websocket.StatusCode) {
	c.Conn.Close(code)
}

// Join joins a room and returns the joined reply.
func (c *Client) Join(room string) Msg {
	c.t.Helper()
	c.Send(map[string]any{"type": "join", "chatroomId": room, "ref": "j-" + room})
	return c.Until("joined", func(m Msg) bool { return m.ChatroomID == room })
}
