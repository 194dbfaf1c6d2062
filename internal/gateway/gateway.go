// Package gateway serves the chat protocol (docs/protocol.md) over WebSockets and HTTP. It
// wires a hub (local sessions and rooms) to the bridge (NATS) and the history store
// (JetStream); it keeps no state of its own that matters.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/bridge"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config of a gateway. Zero values are documented per field.
type Config struct {
	// ID names the gateway in welcome frames and presence records; required.
	ID string
	// History is the event stream's retention.
	History history.Config
	// Grace is how long a dropped session still counts as present; zero means 10s.
	Grace time.Duration
	// SendQueue is each session's outgoing queue, in frames (a frame may hold a batch of events); zero means 128.
	SendQueue int
	// Window is how many recent events are kept in memory per active room; zero means 256.
	Window int
	// WriteTimeout bounds every write to a client; zero means 10s.
	WriteTimeout time.Duration
	// JoinTimeout bounds a join, history included; zero means 10s.
	JoinTimeout time.Duration
	// AuthSecret switches on token mode: clients present HS256 JWTs signed with it.
	// Nil means open mode (?user=), for local use.
	AuthSecret []byte
	// AllowedOrigins are Origin host patterns (path.Match) allowed to open /ws besides the
	// gateway's own host; nil allows the same origin only.
	AllowedOrigins []string
	// Limits protect the gateway from clients; the zero value has none.
	Limits Limits
	// PingInterval is how often every connection is pinged; a peer that does not answer
	// within the interval is cut. Zero means 30s.
	PingInterval time.Duration
	// Page serves GET / (the chat page); nil serves nothing there.
	Page http.Handler
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	c.Grace = orDuration(c.Grace, 10*time.Second)
	c.WriteTimeout = orDuration(c.WriteTimeout, 10*time.Second)
	c.JoinTimeout = orDuration(c.JoinTimeout, 10*time.Second)
	c.PingInterval = orDuration(c.PingInterval, 30*time.Second)
	if c.SendQueue <= 0 {
		c.SendQueue = 128
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Gateway serves clients. Make it with New, serve Handler, and end it with Shutdown.
type Gateway struct {
	cfg    Config
	log    *slog.Logger
	nc     *nats.Conn
	store  *history.Store
	bridge *bridge.Bridge
	hub    *hub.Hub
	stop   context.CancelFunc
	done   sync.WaitGroup // the hub and bridge goroutines

	conns   connSet
	metrics *metrics
	mux     *http.ServeMux
}

// New opens the stream and buckets on nc, starts the hub and the bridge, and returns once
// the gateway can serve. ctx bounds the start only.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Gateway, error) {
	if cfg.ID == "" {
		return nil, errors.New("gateway: an id is required")
	}
	cfg = cfg.withDefaults()
	g := &Gateway{cfg: cfg, log: cfg.Logger, nc: nc, conns: newConnSet()}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	err = retry(ctx, g.log, "opening the event stream", func(ctx context.Context) (err error) {
		g.store, err = history.Open(ctx, js, cfg.History)
		return err
	})
	if err != nil {
		return nil, err
	}
	bcfg := bridge.Config{GatewayID: cfg.ID, Grace: cfg.Grace, Replicas: cfg.History.Replicas, OnPrivate: g.onPrivate}
	err = retry(ctx, g.log, "opening the presence buckets", func(ctx context.Context) (err error) {
		g.bridge, err = bridge.Open(ctx, nc, g.store, bcfg, g.log)
		return err
	})
	if err != nil {
		return nil, err
	}
	g.hub = hub.New(hub.Config{Window: cfg.Window, RoomStart: g.bridge.Feeds.Start, RoomStop: g.bridge.Feeds.Stop})
	g.bridge.SetHub(g.hub)
	g.metrics = newMetrics(g)
	g.bridge.Feeds.OnDeliver = func(n int) { g.metrics.eventsIn.Add(float64(n)) }
	if err := g.start(ctx); err != nil {
		return nil, err
	}
	g.mux = g.routes()
	return g, nil
}

// start runs the hub and the bridge and waits until the bridge's copy of the buckets is in.
func (g *Gateway) start(ctx context.Context) error {
	runCtx, stop := context.WithCancel(context.Background())
	g.stop = stop
	ready := make(chan struct{})
	g.done.Add(3)
	go func() { defer g.done.Done(); g.hub.Run(runCtx) }()
	go func() { defer g.done.Done(); g.pinger(runCtx) }()
	go func() {
		defer g.done.Done()
		if err := g.bridge.Run(runCtx, ready); err != nil {
			g.log.Error("bridge stopped", "err", err)
		}
	}()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		g.stop()
		g.done.Wait()
		return fmt.Errorf("gateway: waiting for presence state: %w", ctx.Err())
	}
}

// Handler serves the page, /ws and the HTTP endpoints.
func (g *Gateway) Handler() http.Handler { return g.mux }

// ID is the gateway's id.
func (g *Gateway) ID() string { return g.cfg.ID }

// Shutdown drains the gateway: every session gets a close event, then close code 1001,
// and keeps counting as present for its grace period so it can move to another gateway.
// It returns when every connection has ended or ctx ends (then the rest are cut).
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.conns.drain()
	err := g.conns.wait(ctx)
	if err != nil {
		g.conns.cutAll()
		_ = g.conns.wait(context.Background())
	}
	g.bridge.Feeds.StopAll()
	g.stop()
	g.done.Wait()
	return err
}

// retry runs a start-up step until it succeeds, fails for good (anything but an outage),
// or ctx ends, each attempt with a short
// deadline: on a NATS cluster that has just formed or restarted, the first requests to
// create a stream or bucket can go unanswered while a later one succeeds at once.
func retry(ctx context.Context, log *slog.Logger, what string, step func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := step(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !history.IsOutage(err) {
			return fmt.Errorf("gateway: %s: %w", what, err)
		}
		log.Warn(what+" failed, retrying", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway: %s: %w", what, err)
		case <-time.After(min(time.Duration(attempt)*500*time.Millisecond, 3*time.Second)):
		}
	}
}

// pinger pings every connection each PingInterval, so a dead peer is noticed within about
// two intervals; one goroutine for the gateway, a short-lived one per ping.
func (g *Gateway) pinger(ctx context.Context) {
	t := time.NewTicker(g.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			for _, c := range g.conns.all() {
				go c.ping(ctx, g.cfg.PingInterval)
			}
		}
	}
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
