// Package gateway serves the chat protocol (docs/protocol.md) over WebSockets and HTTP. It
// wires a hub (local sessions and rooms) to the room feeds (package bridge), the control
// plane (package control) and the history store (JetStream); it keeps no state of its own
// that matters.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/bridge"
	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/markers"
	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/retry"
	"github.com/chathub/chathub/internal/webhook"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// Config of a gateway. Zero values are documented per field.
type Config struct {
	// ID names the gateway in welcome frames and presence records; required.
	ID string
	// History is the event stream's retention.
	History history.Config
	// Grace is how long a dropped session still counts as present; zero means 10s.
	Grace time.Duration
	// SendBudget is how many bytes of events may wait for a session's client before it is
	// cut as too slow (4000); zero means hub.DefaultBudget (4 MiB). Replies to the client's
	// own commands never cut it: its commands wait instead.
	SendBudget int
	// RoomExpiry removes public rooms nobody is in and nothing was stored in for this
	// long (their history follows the stream's limits); zero keeps every room.
	RoomExpiry time.Duration
	// Window is how many recent events are kept in memory per active room; zero means 256.
	Window int
	// Coalesce is hub.Config.Coalesce: how long presence may wait to share a write.
	Coalesce time.Duration
	// TidyMemory returns the memory of a burst to the system once the gateway is quiet,
	// and collects more often while connections open in a burst (tidy.go). It acts on the whole process: cmd/gateway sets it, tests running several
	// gateways in one process do not.
	TidyMemory bool
	// WriteTimeout bounds the writes of events and replies to a client: a client whose
	// socket takes nothing for this long (at most half as long again) is cut; zero means
	// 10s. Control frames (pings, pongs, closes) have coder/websocket's own timeouts.
	WriteTimeout time.Duration
	// Linger is the longest a client's writer waits, after writing a small frame, before
	// writing the next, while the process is short of CPU (pressure.go): fewer, larger
	// frames when writing each event as it comes would put the gateway behind. A gateway
	// with CPU to spare never waits. Zero means DefaultLinger; negative never waits.
	Linger time.Duration
	// JoinTimeout bounds a join, history included; zero means 10s.
	JoinTimeout time.Duration
	// AuthSecret switches on token mode: clients present HS256 JWTs signed with it.
	// Nil, with no AuthPublicKey and no AuthJWKSURL, means open mode (?user=), for local use.
	AuthSecret []byte
	// AuthPublicKey (PEM) switches on token mode for RS256, ES256 or EdDSA tokens, by the
	// type of its keys (auth.Config.PublicKeyPEM); it may be combined with AuthSecret.
	AuthPublicKey []byte
	// AuthJWKSURL switches on token mode for RS256, ES256 and EdDSA tokens signed with the
	// keys published there (auth.Config.JWKSURL); it may be combined with AuthSecret, not
	// with AuthPublicKey. New fails when it cannot be fetched.
	AuthJWKSURL string
	// Tokens are the rules a token must satisfy besides its signature (issuer, audience,
	// maximum lifetime); the zero value checks only the lifetime, at most 7 days.
	Tokens auth.Rules
	// AuthTimeout is how long a client that opened /ws without ?token= has to send its
	// token as its first frame; zero means 10s.
	AuthTimeout time.Duration
	// AllowedOrigins are Origin host patterns (path.Match) allowed to open /ws besides the
	// gateway's own host; nil allows the same origin only.
	AllowedOrigins []string
	// Limits protect the gateway from clients; the zero value has none.
	Limits Limits
	// PingInterval is how often every connection is pinged; a peer that does not answer
	// within the interval is cut. Zero means 30s.
	PingInterval time.Duration
	// SeparateMetrics takes GET /metrics off the gateway's handler; serve MetricsHandler
	// on an address of its own. In token mode (any of AuthSecret, AuthPublicKey,
	// AuthJWKSURL), where every endpoint but /healthz and /readyz needs a token, metrics
	// are served only so.
	SeparateMetrics bool
	// APIKeys switch the server API on (docs/api.md): POST /api/v1/<method> with any of
	// them as bearer token, and the NATS service "chat". Nil serves neither (/api/ is 404).
	APIKeys []string
	// Webhook, when not nil, POSTs every stored event to a URL (package webhook); the
	// delivery is shared with the other gateways.
	Webhook *webhook.Config
	// Page serves GET / (the chat page); nil serves nothing there.
	Page http.Handler
	// Logger receives the gateway's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock of typing notices (at most one per user and room every 2 s); nil
	// means time.Now. Tests set it.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	c.Grace = orDuration(c.Grace, 10*time.Second)
	c.WriteTimeout = orDuration(c.WriteTimeout, 10*time.Second)
	if c.Linger == 0 {
		c.Linger = DefaultLinger
	}
	c.JoinTimeout = orDuration(c.JoinTimeout, 10*time.Second)
	c.PingInterval = orDuration(c.PingInterval, 30*time.Second)
	c.AuthTimeout = orDuration(c.AuthTimeout, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Gateway serves clients. Make it with New, serve Handler, and end it with Shutdown.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	nc      *nats.Conn
	store   *history.Store
	control controlPlane
	feeds   *bridge.Feeds
	hub     *hub.Hub
	markers *markers.Store
	// markerWatch hears the markers' moves, for the users' local sessions.
	markerWatch *markers.Watcher
	typing      *typingGate
	conns       connSet
	metrics     *metrics
	limits      *limiters
	mux         http.Handler
	tokens      *auth.Verifier // nil in open mode
	waiting     atomic.Int64   // connections waiting for their first frame's token
	opened      atomic.Uint64  // connections opened (with a session) since the start
	bursting    atomic.Bool    // connections are opening in a burst (tidy.go): no tidying
	tidyDue     atomic.Bool    // a burst has just ended (tidy.go): tidy at the next look
	api         *serverAPI
	webhook     *webhook.Deliverer // nil without Config.Webhook
	pressure    pressure

	stop   context.CancelFunc // ends what start started
	runCtx context.Context    // ends with stop
	run    *errgroup.Group    // the hub, the control plane, the feeds' checks, the pinger
}

// controlPlane is what the gateway asks of package control: presence, rooms and notices
// over all gateways.
type controlPlane interface {
	Connect(ctx context.Context, user, session, conn string) (*control.Takeover, error)
	Disconnect(ctx context.Context, user, session, conn string, left bool) error
	Kick(ctx context.Context, user, session string, t *control.Takeover)
	JoinRoom(ctx context.Context, user, session, conn, room string) (stored, enter uint64, err error)
	LeaveRoom(ctx context.Context, user, session, conn, room string) error
	UndoJoin(ctx context.Context, user, session, conn, room string, own uint64) error
	Access(ctx context.Context, user, room string, create bool) error
	Private(ctx context.Context, user, peer string) (string, error)
	Ban(ctx context.Context, room, user string, on bool) error
	State() *control.State
}

// New opens the stream and buckets on nc, starts the hub, the room feeds and the control
// plane, and returns once the gateway can serve. ctx bounds the start only. This is the
// one place where the parts are made and joined.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Gateway, error) {
	if cfg.ID == "" {
		return nil, errors.New("gateway: an id is required")
	}
	cfg = cfg.withDefaults()
	g := &Gateway{cfg: cfg, log: cfg.Logger, nc: nc, conns: newConnSet(), limits: cfg.Limits.limiters()}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if g.tokens, err = verifier(cfg); err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			g.tokens.Close()
		}
	}()
	err = startStep(ctx, g.log, "opening the event stream", func(ctx context.Context) (err error) {
		g.store, err = history.Open(ctx, js, cfg.History)
		return err
	})
	if err != nil {
		return nil, err
	}
	var plane *control.Plane
	ccfg := control.Config{GatewayID: cfg.ID, Grace: cfg.Grace, Replicas: cfg.History.Replicas, RoomExpiry: cfg.RoomExpiry}
	err = startStep(ctx, g.log, "opening the presence buckets", func(ctx context.Context) (err error) {
		plane, err = control.Open(ctx, nc, g.store, ccfg, local{g}, g.log)
		return err
	})
	if err != nil {
		return nil, err
	}
	g.control = plane
	err = startStep(ctx, g.log, "opening the markers bucket", func(ctx context.Context) (err error) {
		g.markers, err = markers.Open(ctx, js, cfg.History.Replicas)
		return err
	})
	if err != nil {
		return nil, err
	}
	g.typing = newTypingGate(cfg.Now)
	g.metrics = newMetrics(g)
	if err := g.openWebhook(ctx, js); err != nil {
		return nil, err
	}
	g.feeds = bridge.NewFeeds(nc, g.store, g.log, bridge.Counts{
		Delivered: func(n int) { g.metrics.eventsIn.Add(float64(n)) },
		Refilled:  func(n int) { g.metrics.refilled.Add(float64(n)) }})
	g.hub = hub.New(hub.Config{Window: cfg.Window, Feeds: g.feeds, Coalesce: cfg.Coalesce,
		Busy: func() bool { return g.pressure.Linger() > 0 }})
	if err := g.start(ctx, plane); err != nil {
		return nil, err
	}
	if err := g.openAPI(plane); err != nil {
		g.stop()
		_ = g.run.Wait()
		return nil, err
	}
	g.mux = g.withAPI(g.routes())
	started = true
	return g, nil
}

// verifier makes the token verifier of token mode, or nil in open mode.
func verifier(cfg Config) (*auth.Verifier, error) {
	if cfg.AuthSecret == nil && cfg.AuthPublicKey == nil && cfg.AuthJWKSURL == "" {
		return nil, nil
	}
	v, err := auth.NewVerifier(auth.Config{Secret: cfg.AuthSecret, PublicKeyPEM: cfg.AuthPublicKey,
		JWKSURL: cfg.AuthJWKSURL, Rules: cfg.Tokens, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return v, nil
}

// start runs the hub, the control plane, the feeds' idle checks and the pinger as one
// group, and waits until the control plane's copy of the buckets is in. If any of them
// fails first, the start fails with its error.
func (g *Gateway) start(ctx context.Context, plane *control.Plane) error {
	runCtx, stop := context.WithCancel(context.Background())
	grp, runCtx := errgroup.WithContext(runCtx)
	g.stop, g.run, g.runCtx = stop, grp, runCtx
	if err := g.watchMarkers(ctx, runCtx); err != nil {
		stop()
		return err
	}
	ready := make(chan struct{})
	grp.Go(func() error { g.markerWatch.Run(runCtx, g.markerMoved); return nil })
	grp.Go(func() error { g.hub.Run(runCtx); return nil })
	grp.Go(func() error { g.pinger(runCtx); return nil })
	grp.Go(func() error { g.stuckWriters(runCtx); return nil })
	grp.Go(func() error { g.limits.forgetFull(runCtx); return nil })
	if g.cfg.Linger > 0 {
		g.pressure.max = g.cfg.Linger
		grp.Go(func() error { g.pressure.watch(runCtx, g.lingerChanged); return nil })
	}
	if g.cfg.TidyMemory {
		grp.Go(func() error { g.tidyMemory(runCtx); return nil })
		grp.Go(func() error { g.paceBursts(runCtx); return nil })
	}
	grp.Go(func() error { g.feeds.RunChecks(runCtx, 3*time.Second); return nil })
	if g.webhook != nil {
		grp.Go(func() error { g.webhook.Run(runCtx); return nil })
	}
	grp.Go(func() error {
		err := plane.Run(runCtx, ready)
		if err != nil && runCtx.Err() == nil {
			g.log.Error("control plane stopped", "err", err)
		}
		return err
	})
	failed := make(chan error, 1)
	go func() { failed <- grp.Wait() }()
	select {
	case <-ready:
		return nil
	case err := <-failed:
		stop()
		return fmt.Errorf("gateway: starting: %w", err)
	case <-ctx.Done():
		stop()
		<-failed
		return fmt.Errorf("gateway: waiting for presence state: %w", ctx.Err())
	}
}

// watchMarkers starts the watch of the markers bucket, which lives as long as runCtx; ctx
// bounds the start. A watch that cannot start (after a few tries while NATS does not
// answer) fails the gateway's start.
func (g *Gateway) watchMarkers(ctx, runCtx context.Context) error {
	started := make(chan error, 1)
	go func() {
		var err error
		for try := 1; ; try++ {
			if g.markerWatch, err = g.markers.Watch(runCtx); err == nil || try == 5 || !history.IsOutage(err) {
				break
			}
			g.log.Warn("markers watch failed, trying again", "try", try, "err", err)
			select {
			case <-runCtx.Done():
			case <-time.After(time.Duration(try) * 300 * time.Millisecond):
			}
		}
		started <- err
	}()
	select {
	case err := <-started:
		if err != nil {
			return fmt.Errorf("gateway: starting: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: waiting for the markers watch: %w", ctx.Err())
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
	g.closeAPI()
	g.conns.drain()
	err := g.conns.wait(ctx)
	if err != nil {
		g.conns.cutAll()
		_ = g.conns.wait(context.Background())
	}
	g.feeds.StopAll()
	g.stop()
	_ = g.run.Wait()
	g.tokens.Close()
	return err
}

// local is this gateway's side of the control plane: what it asks of the local sessions.
type local struct{ g *Gateway }

func (l local) Notice(data []byte) { l.g.hub.Broadcast(&hub.Frame{Data: data}) }
func (l local) Kick(user, session, conn string, code int, reason string) {
	l.g.hub.Kick(user, session, conn, code, reason)
}
func (l local) PrivateOpened(room, user, peer string) {
	l.g.privateOpened(room, user, peer)
}

// startStep runs a start-up step until it succeeds, fails for good (anything but an outage),
// or ctx ends, each attempt with a short deadline (retry.Start): on a NATS cluster that has
// just formed or restarted, the first requests to create a stream or bucket can go
// unanswered while a later one succeeds at once.
func startStep(ctx context.Context, log *slog.Logger, what string, step func(context.Context) error) error {
	err := retry.Do(ctx, retry.Start, history.IsOutage, step,
		func(err error, wait time.Duration) { log.Warn(what+" failed, retrying", "in", wait, "err", err) })
	if err != nil {
		return fmt.Errorf("gateway: %s: %w", what, err)
	}
	return nil
}

// pingWorkers is how many pings may wait for their pong at once, gateway-wide.
const pingWorkers = 32

// pinger keeps connections alive through proxies and cuts peers that died: every
// PingInterval it pings each connection that sent nothing for half an interval, and cuts
// one that was pinged and has sent nothing since, not even a pong, for a whole interval. A
// fixed pool of workers sends the pings (a ping waits for its pong), so no goroutine is
// started per connection; when they are all busy (a slow machine, many dead peers), pings
// wait for the next round, and nobody is cut for a ping that was never sent.
func (g *Gateway) pinger(ctx context.Context) {
	every := g.cfg.PingInterval
	work := make(chan *conn, 1024)
	var wg sync.WaitGroup
	for range pingWorkers {
		wg.Go(func() {
			for c := range work {
				c.ping(ctx, every/2)
			}
		})
	}
	defer wg.Wait()
	defer close(work)
	poll.Every(ctx, every, func() {
		now := time.Now().UnixNano()
		for _, c := range g.conns.all() {
			sent, seen := c.pingSent.Load(), c.lastSeen.Load()
			switch {
			case sent > seen && now-sent > int64(every):
				c.log().Info("peer did not answer a ping within an interval; connection cut")
				c.ws.CloseNow()
			case sent <= seen && now-seen > int64(every/2):
				select {
				case work <- c:
				default: // the workers are behind: next round
				}
			}
		}
	})
}

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
