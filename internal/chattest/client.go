package chattest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Timeout bounds every wait of a test client.
var Timeout = 15 * time.Second

// Msg is one object a gateway sent, decoded loosely, with its raw JSON.
type Msg struct {
	Type       string            `json:"type"`
	Ref        string            `json:"ref"`
	ID         uint64            `json:"id"`
	ChatroomID string            `json:"chatroomId"`
	UserID     string            `json:"userId"`
	SessionID  string            `json:"sessionId"`
	Message    string            `json:"message"`
	Code       string            `json:"code"`
	Private    bool              `json:"private"`
	Peer       string            `json:"peer"`
	Recovered  bool              `json:"recovered"`
	GatewayID  string            `json:"gatewayId"`
	Events     []Msg             `json:"events"`
	Users      []json.RawMessage `json:"users"`
	Rooms      []json.RawMessage `json:"rooms"`
	Raw        json.RawMessage   `json:"-"`
}

// Client is a real WebSocket client of a gateway. A goroutine reads every frame, splits it
// on newlines and queues the objects; the test takes them in order with Next and Expect.
type Client struct {
	t      testing.TB
	WS     *websocket.Conn
	msgs   chan Msg
	done   chan struct{}
	err    error // why reading ended; set before done closes
	frames int
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
	for k, v := range q {
		if len(v) == 1 && v[0] == "" {
			delete(q, k)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, wsURL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(-1)
	c := &Client{t: t, WS: ws, msgs: make(chan Msg, 1<<16), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() { ws.CloseNow() })
	return c, nil
}

func (c *Client) read() {
	defer close(c.done)
	for {
		_, data, err := c.WS.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		c.frames++
		for _, part := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(part)) == 0 {
				continue
			}
			var m Msg
			if err := json.Unmarshal(part, &m); err != nil {
				c.err = fmt.Errorf("bad JSON from gateway: %q: %w", part, err)
				return
			}
			m.Raw = append(json.RawMessage(nil), part...)
			c.msgs <- m
		}
	}
}

// Send sends one command.
func (c *Client) Send(cmd any) {
	c.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendRaw(b)
}

// SendRaw sends one text frame as is.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.WS.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("send %s: %v", b, err)
	}
}

// Next returns the next object from the gateway.
func (c *Client) Next() Msg {
	c.t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m
		default:
		}
		c.t.Fatalf("connection ended while waiting: %v", c.err)
	case <-time.After(Timeout):
		c.t.Fatalf("nothing from the gateway within %v", Timeout)
	}
	return Msg{}
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
	case <-c.done:
		return websocket.CloseStatus(c.err)
	case <-time.After(Timeout):
		c.t.Fatalf("connection still open after %v", Timeout)
	}
	return -1
}

// Pending returns what has arrived and not been taken, without waiting.
func (c *Client) Pending() []Msg {
	var out []Msg
	for {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		default:
			return out
		}
	}
}

// Close closes the connection with code.
func (c *Client) Close(code websocket.StatusCode) {
	c.WS.Close(code, "")
}

// Join joins a room and returns the joined reply.
func (c *Client) Join(room string) Msg {
	c.t.Helper()
	c.Send(map[string]any{"type": "join", "chatroomId": room, "ref": "j-" + room})
	return c.Until("joined", func(m Msg) bool { return m.ChatroomID == room })
}
