// Package chattest starts real components for tests: an embedded JetStream server, gateways
// on it served over loopback, and WebSocket clients that speak the protocol.
package chattest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATS starts an embedded JetStream server on a free loopback port, its store in a
// temporary directory, shut down when the test ends.
func NATS(t testing.TB) *server.Server {
	t.Helper()
	return NATSAt(t, t.TempDir())
}

// NATSAt starts an embedded JetStream server storing in dir.
func NATSAt(t testing.TB, dir string) *server.Server {
	t.Helper()
	return natstest.Server(t, dir)
}

// Gateway is a gateway served over loopback by httptest.
type Gateway struct {
	*gateway.Gateway
	Server *httptest.Server
	NC     *nats.Conn
	closed bool
}

// URL is the gateway's WebSocket URL.
func (g *Gateway) URL() string { return "ws" + strings.TrimPrefix(g.Server.URL, "http") + "/ws" }

// HTTP is the gateway's base HTTP URL.
func (g *Gateway) HTTP() string { return g.Server.URL }

// Close drains the gateway as SIGTERM would, and stops serving.
func (g *Gateway) Close() {
	if g.closed {
		return
	}
	g.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g.Server.Config.Shutdown(ctx)
	g.Gateway.Shutdown(ctx)
	g.Server.Close()
	g.NC.Close()
}

// StartGateway runs a gateway on ns with cfg (ID defaults to "gw-test"), stopped when the
// test ends.
func StartGateway(t testing.TB, ns *server.Server, cfg gateway.Config) *Gateway {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ID == "" {
		cfg.ID = "gw-test"
	}
	if cfg.JoinTimeout == 0 {
		// A join retries NATS timeouts for this long before answering unavailable. Under
		// -race on a busy 2-core machine (CI beside other work) the default 10 s ran out
		// now and then in tests that are about something else; a test of the timeout
		// itself sets its own.
		cfg.JoinTimeout = 30 * time.Second
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
	srv := httptest.NewServer(g.Handler())
	tg := &Gateway{Gateway: g, Server: srv, NC: nc}
	t.Cleanup(tg.Close)
	return tg
}
