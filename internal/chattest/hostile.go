package chattest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Helpers for tests that play a hostile or careless client: raw frames, raw connections
// that never read, HTTP requests with headers.

var callSeq atomic.Int64

// Call sends cmd with a fresh ref and returns the reply carrying that ref, skipping the
// objects before it (events, notices).
func (c *Client) Call(cmd map[string]any) Msg {
	c.t.Helper()
	ref := fmt.Sprintf("call%d", callSeq.Add(1))
	cmd["ref"] = ref
	c.Send(cmd)
	return c.UntilMatch(func(m Msg) bool { return m.Ref == ref })
}

// UntilMatch skips objects until one matches and returns it.
func (c *Client) UntilMatch(match func(Msg) bool) Msg {
	c.t.Helper()
	for {
		if m := c.Next(); match(m) {
			return m
		}
	}
}

// Mark sends a users command as a marker and returns every object that came before its
// reply, online and offline notices left out: what the gateway answered to the frames sent
// before the marker. That the marker is answered shows the connection still serves.
func (c *Client) Mark() []Msg {
	c.t.Helper()
	ref := fmt.Sprintf("mark%d", callSeq.Add(1))
	c.Send(map[string]any{"type": "users", "ref": ref})
	var before []Msg
	for {
		m := c.Next()
		switch {
		case m.Ref == ref && m.Type == "users":
			return before
		case m.Type == "online" || m.Type == "offline":
		default:
			before = append(before, m)
		}
	}
}

// DialRaw opens a WebSocket with query q and handshake headers h and returns the bare
// connection: nothing reads it unless the caller does. A connection that is never read is
// how a slow client looks to a gateway. readBuffer, when > 0, shrinks the client socket's
// receive buffer so that the gateway's writes back up sooner. It is set before the socket
// connects where the system allows: shrunk afterwards, below the window already offered, the
// window is not offered again at once when the client reads, and what the gateway has
// still to send trickles in at the pace of zero-window probes.
func DialRaw(ctx context.Context, wsURL string, q url.Values, h http.Header, readBuffer int) (*websocket.Conn, *http.Response, error) {
	opts := &websocket.DialOptions{HTTPHeader: h}
	if readBuffer > 0 {
		d := &net.Dialer{Timeout: Timeout, Control: func(_, _ string, c syscall.RawConn) error {
			return setReadBuffer(c, readBuffer)
		}}
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(readBuffer)
			}
			return c, err
		}}
		opts.HTTPClient = &http.Client{Transport: tr}
	}
	u := wsURL
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ws, resp, err := websocket.Dial(ctx, u, opts)
	if err == nil {
		ws.SetReadLimit(-1)
	}
	return ws, resp, err
}

// GetJSON does an HTTP GET with headers h, decodes a JSON body into v (when v is not nil)
// and returns the status and the raw body.
func GetJSON(t testing.TB, u string, h http.Header, v any) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %d %s: %v", u, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode, body
}

// HTTPError is the body of an HTTP error answer.
type HTTPError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// StartGatewaySendBuffer is StartGateway with the send buffer of every accepted socket set
// to sndbuf bytes. Left alone, the kernel grows it to some MiB, which hides a client that
// stopped reading for as long as it takes to fill them.
func StartGatewaySendBuffer(t testing.TB, ns *server.Server, cfg gateway.Config, sndbuf int) *Gateway {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID == "" {
		cfg.ID = "gw-test"
	}
	if cfg.Logger == nil && os.Getenv("CHAT_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("gateway", cfg.ID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := gateway.New(ctx, nc, cfg)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(g.Handler())
	srv.Listener = sendBufferListener{srv.Listener, sndbuf}
	srv.Start()
	tg := &Gateway{Gateway: g, Server: srv, NC: nc}
	t.Cleanup(tg.Close)
	return tg
}

// ListenSendBuffer serves g on one more loopback listener, whose accepted sockets have a
// send buffer of sndbuf bytes, until the test ends, and returns its WebSocket URL. A client
// of it that stops reading holds up the gateway's writes after about sndbuf bytes and its
// own receive buffer, whatever the kernel would grow them to on this machine; the gateway's
// other clients keep the kernel's buffers.
func (g *Gateway) ListenSendBuffer(t testing.TB, sndbuf int) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(g.Handler())
	srv.Listener = sendBufferListener{srv.Listener, sndbuf}
	srv.Start()
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

type sendBufferListener struct {
	net.Listener
	size int
}

func (l sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(l.size)
	}
	return c, err
}
