// Command gateway serves the chat: WebSocket clients, the chat page and the HTTP endpoints,
// on NATS with JetStream. With no --nats-url it embeds a NATS server, so one command runs
// the whole thing:
//
//	go run ./cmd/gateway            # then open http://localhost:8080
//
// Every flag can also be set as an environment variable CHAT_<FLAG> (CHAT_NATS_URL, ...).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/eventlog"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/natsd"
	"github.com/chathub/chathub/web"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "token" {
		if err := token(os.Args[2:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			if !errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(os.Stderr, "gateway token:", err)
				os.Exit(2)
			}
		}
		return
	}
	cfg, err := parse(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// newServer serves h with timeouts, so that a client that sends slowly, reads nothing or
// keeps an idle connection open cannot hold it for long. A WebSocket is not subject to
// them: net/http clears a connection's deadlines when it is hijacked, and the gateway
// bounds its writes itself (--write-timeout; control frames have coder/websocket's
// timeouts).
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
}

// run serves until ctx ends, then drains and returns nil.
func run(ctx context.Context, cfg config, logw io.Writer) error {
	log := newLogger(cfg, logw).With("gateway", cfg.GatewayID)
	nc, ns, err := connect(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		nc.Drain()
		if ns != nil {
			ns.Shutdown()
			ns.WaitForShutdown()
		}
	}()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	g, err := gateway.New(startCtx, nc, gatewayConfig(cfg, log))
	cancel()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		g.Shutdown(context.Background())
		return fmt.Errorf("listen: %w", err)
	}
	srv := newServer(g.Handler())
	go srv.Serve(ln)
	log.Info("gateway listening", "addr", ln.Addr().String(), "nats", natsName(cfg), "mode", mode(cfg))
	if !cfg.tokenMode() && !loopback(ln.Addr()) {
		log.Warn("open mode on a non-loopback address: anyone who reaches it may speak as any user; set an auth secret for real use")
	}
	if cfg.MetricsAddr != "" {
		go serveMetrics(cfg.MetricsAddr, g.MetricsHandler(), log)
	} else if cfg.tokenMode() {
		log.Info("token mode: /metrics is served only on --metrics-addr, which is not set")
	}
	logDone := startEventLog(nc, cfg.EventLog, log)
	if cfg.DebugAddr != "" {
		go serveDebug(cfg.DebugAddr, log)
	}
	<-ctx.Done()
	err = shutdown(srv, g, cfg.ShutdownTimeout, log)
	logDone()
	return err
}

// shutdown stops accepting, then drains every session (close event, then 1001).
func shutdown(srv *http.Server, g *gateway.Gateway, timeout time.Duration, log *slog.Logger) error {
	log.Info("gateway draining", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	srv.Shutdown(ctx)
	if err := g.Shutdown(ctx); err != nil {
		log.Warn("drain timed out; remaining connections were cut", "err", err)
	}
	log.Info("gateway stopped")
	return nil
}

func gatewayConfig(cfg config, log *slog.Logger) gateway.Config {
	return gateway.Config{
		ID: cfg.GatewayID,
		History: history.Config{Depth: cfg.HistoryDepth, MaxAge: cfg.HistoryMaxAge,
			Replicas: cfg.StreamReplicas},
		Grace:          cfg.Grace,
		RoomExpiry:     cfg.RoomExpiry,
		SendBudget:     cfg.SendBudget,
		Window:         cfg.Window,
		Coalesce:       cfg.coalesce(),
		TidyMemory:     true,
		WriteTimeout:   cfg.WriteTimeout,
		Linger:         cfg.linger(),
		AuthSecret:     cfg.AuthSecret,
		AuthPublicKey:  cfg.AuthPublicKey,
		AuthJWKSURL:    cfg.AuthJWKSURL,
		Tokens:         auth.Rules{Issuer: cfg.TokenIssuer, Audience: cfg.TokenAudience, MaxLifetime: cfg.TokenMaxLife},
		AllowedOrigins: cfg.origins(),
		Limits: gateway.Limits{MessageRate: cfg.MessageRate, MessageBurst: cfg.MessageBurst,
			CommandRate: cfg.CommandRate, CommandBurst: cfg.CommandBurst,
			ConnectRate: cfg.ConnectRate, ConnectBurst: cfg.ConnectBurst, ClientAddrHeader: cfg.ClientAddrHeader,
			UserConnectRate: cfg.UserConnectRate, UserConnectBurst: cfg.UserConnectBurst,
			RoomCreateRate: cfg.RoomCreateRate, RoomCreateBurst: cfg.RoomCreateBurst,
			MaxConns: cfg.MaxConns, MaxConnsPerUser: cfg.MaxConnsPerUser, MaxRooms: cfg.MaxRooms,
			HistoryReads: cfg.HistoryReads},
		SeparateMetrics: cfg.MetricsAddr != "",
		PingInterval:    cfg.PingInterval,
		APIKeys:         cfg.APIKeys,
		Webhook:         cfg.Webhook.config(),
		Page:            web.Handler(),
		Logger:          log,
	}
}

// connect connects to NATS, first starting the embedded server when no URL is given.
func connect(cfg config, log *slog.Logger) (*nats.Conn, *server.Server, error) {
	opts := []nats.Option{
		nats.Name("chat-gateway " + cfg.GatewayID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		// No buffering while reconnecting: a message answered "unavailable" must not be
		// stored later behind the client's back.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrlRedacted()) }),
	}
	if cfg.NATSURL != "" {
		nc, err := nats.Connect(cfg.NATSURL, append(opts, nats.RetryOnFailedConnect(false))...)
		if err != nil {
			return nil, nil, fmt.Errorf("connect to NATS at %s: %w", redactURLs(cfg.NATSURL), err)
		}
		return nc, nil, nil
	}
	ns, err := natsd.Start(natsd.Config{StoreDir: cfg.DataDir, ServerName: "chat-embedded",
		Addr: cfg.EmbeddedNATS, DontListen: cfg.EmbeddedNATS == ""})
	if err != nil {
		return nil, nil, fmt.Errorf("embedded NATS (--embedded-nats-addr %q): %w", cfg.EmbeddedNATS, err)
	}
	if cfg.EmbeddedNATS == "" {
		log.Info("embedded nats started, in-process only", "store", cfg.DataDir)
	} else {
		log.Info("embedded nats started", "store", cfg.DataDir, "url", ns.ClientURL())
	}
	nc, err := nats.Connect("", append(opts, nats.InProcessServer(ns))...)
	if err != nil {
		ns.Shutdown()
		return nil, nil, fmt.Errorf("connect to embedded NATS: %w", err)
	}
	return nc, ns, nil
}

func natsName(cfg config) string {
	if cfg.NATSURL == "" {
		return "embedded"
	}
	return strings.Join(strings.Split(redactURLs(cfg.NATSURL), ","), " ")
}

// redactURLs hides the passwords and tokens of comma-separated URLs, for logs and errors.
func redactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx") // a token
			}
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// startEventLog appends every stored event to path (if set) until the returned function
// is called; that function returns once the last lines are written and acknowledged.
func startEventLog(nc *nats.Conn, path string, log *slog.Logger) (stop func()) {
	if path == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		js, err := jetstream.New(nc)
		if err == nil {
			err = eventlog.Run(ctx, js, eventlog.Config{Path: path}, log)
		}
		if err != nil {
			log.Error("event log stopped", "file", path, "err", err)
		}
	}()
	return func() { cancel(); <-done }
}

// serveMetrics serves /metrics apart from the public address.
func serveMetrics(addr string, h http.Handler, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	log.Info("metrics listening", "addr", addr)
	srv := newServer(mux)
	srv.Addr = addr
	if err := srv.ListenAndServe(); err != nil {
		log.Error("metrics server stopped", "err", err)
	}
}

func mode(cfg config) string {
	if cfg.tokenMode() {
		return "token"
	}
	return "open"
}

func loopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

// serveDebug serves Go's profiles (/debug/pprof/) apart from the public address, for
// operators only.
func serveDebug(addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	log.Info("debug listening", "addr", addr)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Error("debug server stopped", "err", err)
	}
}
