package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/protocol"
)

// config is everything the command line and the environment set.
type config struct {
	Addr            string
	NATSURL         string
	EmbeddedNATS    string // where the embedded NATS listens; "" in-process only
	DataDir         string
	GatewayID       string
	StreamReplicas  int
	HistoryDepth    int64
	HistoryMaxAge   time.Duration
	Grace           time.Duration
	SendBudget      int
	Window          int
	Coalesce        time.Duration
	WriteTimeout    time.Duration
	Linger          time.Duration
	EventLog        string
	ShutdownTimeout time.Duration
	LogLevel        string
	LogFormat       string

	AuthSecretFile  string
	TokenIssuer     string
	TokenAudience   string
	TokenMaxLife    time.Duration
	AuthSecret      []byte // from CHAT_AUTH_SECRET or the file
	AuthKeyFile     string
	AuthPublicKey   []byte // read from AuthKeyFile
	AuthJWKSURL     string
	AllowedOrigins  string
	MessageRate     float64
	MessageBurst    int
	CommandRate     float64
	CommandBurst    int
	MaxConns        int
	MaxConnsPerUser int
	MaxRooms        int
	PingInterval    time.Duration
	DebugAddr       string
	MetricsAddr     string

	ConnectRate      float64
	ConnectBurst     int
	ClientAddrHeader string
	UserConnectRate  float64
	UserConnectBurst int
	RoomCreateRate   float64
	RoomCreateBurst  int
	HistoryReads     int
	RoomExpiry       time.Duration

	APIKeyFile string
	APIKeys    []string // from CHAT_API_KEY or the file
	Webhook    webhookFlags
}

// envPrefix: every flag can also be set as CHAT_<FLAG>, e.g. CHAT_NATS_URL for --nats-url.
// A flag given on the command line wins over the environment.
const envPrefix = "CHAT_"

func parse(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Addr, "addr", "", "HTTP listen address (host:port; port 0 picks one); default 127.0.0.1:8080 in open mode, :8080 in token mode")
	fs.StringVar(&c.NATSURL, "nats-url", "", "NATS server URLs, comma-separated; empty embeds a NATS server with JetStream")
	fs.StringVar(&c.EmbeddedNATS, "embedded-nats-addr", "127.0.0.1:4222", `with no --nats-url: where the embedded NATS server listens, for the nats CLI (port 0 picks one); empty or "none": in-process only`)
	fs.StringVar(&c.DataDir, "data-dir", "./data", "storage of the embedded NATS server")
	fs.StringVar(&c.GatewayID, "gateway-id", "", "this gateway's id (default: host name plus a short random suffix)")
	fs.IntVar(&c.StreamReplicas, "stream-replicas", 1, "replicas of the event stream and buckets (3 on a NATS cluster)")
	fs.Int64Var(&c.HistoryDepth, "history-depth", 10000, "events kept per room")
	fs.DurationVar(&c.HistoryMaxAge, "history-max-age", 30*24*time.Hour, "how long events are kept")
	fs.DurationVar(&c.Grace, "grace", 10*time.Second, "how long a dropped session still counts as present")
	fs.IntVar(&c.SendBudget, "send-budget", 4<<20, "bytes of events that may wait for a session's client before it is closed as too slow (4000)")
	fs.IntVar(&c.Window, "window", 256, "recent events kept in memory per active room")
	fs.DurationVar(&c.Coalesce, "presence-coalesce", hub.DefaultCoalesce, "how long presence events (join, leave, typing, ...) may wait to share one write with others to the same client (four times as long while the gateway is short of CPU, unless --write-linger is 0); 0 writes each at once")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 10*time.Second, "a client whose socket takes no write for this long (at most half as long again) is cut as too slow")
	fs.DurationVar(&c.Linger, "write-linger", gateway.DefaultLinger, "while the gateway is short of CPU, the longest a client's writer waits after a small frame so the next carries more; 0 writes each at once")
	fs.StringVar(&c.EventLog, "event-log", "", "append every stored event to this file as a JSON line")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long draining may take on SIGTERM")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.StringVar(&c.AuthSecretFile, "auth-secret-file", "", "token mode: file holding the HS256 secret (or set CHAT_AUTH_SECRET); empty with no CHAT_AUTH_SECRET means open mode")
	fs.StringVar(&c.AuthKeyFile, "auth-public-key-file", "", "token mode: PEM file of the public key(s) verifying RS256, ES256 or EdDSA tokens")
	fs.StringVar(&c.AuthJWKSURL, "auth-jwks-url", "", "token mode: JWKS URL of the identity provider's keys, for RS256, ES256 and EdDSA tokens")
	fs.StringVar(&c.AllowedOrigins, "allowed-origins", "", "comma-separated Origin host patterns allowed besides the gateway's own host (e.g. chat.example.com,*.example.com)")
	fs.Float64Var(&c.MessageRate, "message-rate", 10, "messages per second per user on this gateway (shared by the user's connections); 0 switches the limit off (load tests)")
	fs.IntVar(&c.MessageBurst, "message-burst", 20, "messages a user may send at once above the rate")
	fs.Float64Var(&c.CommandRate, "command-rate", 50, "commands of any kind per second per user on this gateway; 0 switches the limit off")
	fs.IntVar(&c.CommandBurst, "command-burst", 100, "commands a user may send at once above the rate")
	fs.Float64Var(&c.ConnectRate, "connect-rate", 0, "new connections per second per client address (beyond: HTTP 429); 0 for no limit. Behind a load balancer set --client-addr-header too")
	fs.IntVar(&c.ConnectBurst, "connect-burst", 0, "new connections a client address may open at once above --connect-rate (0: twice the rate)")
	fs.StringVar(&c.ClientAddrHeader, "client-addr-header", "", "request header holding the client's address, set by the load balancer (e.g. X-Forwarded-For: its last entry counts); empty uses the peer address")
	fs.Float64Var(&c.UserConnectRate, "user-connect-rate", 1, "new connections per second per user on this gateway (beyond: rate_limited, close 1013); 0 for no limit")
	fs.IntVar(&c.UserConnectBurst, "user-connect-burst", 20, "new connections a user may open at once above --user-connect-rate")
	fs.Float64Var(&c.RoomCreateRate, "room-create-rate", 0.2, "new rooms (public or private) per second per user on this gateway (beyond: rate_limited); 0 for no limit")
	fs.IntVar(&c.RoomCreateBurst, "room-create-burst", 20, "new rooms a user may create at once above --room-create-rate")
	fs.IntVar(&c.HistoryReads, "history-reads", 8, "GET /history requests served at once, each holding its reply until written (beyond: wait up to 1s, then 429); 0 for no limit")
	fs.DurationVar(&c.RoomExpiry, "room-expiry", 7*24*time.Hour, "public rooms nobody is in and nothing was posted in for this long are removed from the rooms list (their history stays); 0 keeps every room")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve /metrics on this address instead of the main one (e.g. 127.0.0.1:9090); in token mode metrics are served only there")
	fs.IntVar(&c.MaxConns, "max-conns", 50000, "connections this gateway accepts (beyond: HTTP 503); 0 for no limit")
	fs.IntVar(&c.MaxConnsPerUser, "max-conns-per-user", 32, "connections of one user on this gateway (beyond: close 1013); 0 for no limit")
	fs.IntVar(&c.MaxRooms, "max-rooms", 200, "rooms one session may be in (beyond: forbidden); 0 for no limit")
	fs.StringVar(&c.TokenIssuer, "token-issuer", "", "token mode: the iss every token must carry (empty: not checked)")
	fs.StringVar(&c.TokenAudience, "token-audience", "", "token mode: an aud every token must carry (empty: not checked)")
	fs.DurationVar(&c.TokenMaxLife, "token-max-lifetime", auth.DefaultMaxLifetime, "token mode: the longest a token may still be valid for")
	fs.StringVar(&c.DebugAddr, "debug-addr", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); empty for none")
	fs.DurationVar(&c.PingInterval, "ping-interval", 30*time.Second, "keepalive ping period; a peer silent for a period is cut")
	c.apiFlags(fs)
	c.Webhook.register(fs)
	if err := fromEnv(fs, getenv); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := c.secret(getenv); err != nil {
		return c, err
	}
	if err := c.publicKey(); err != nil {
		return c, err
	}
	if c.EmbeddedNATS == "none" {
		c.EmbeddedNATS = ""
	}
	if err := c.apiKeys(getenv); err != nil {
		return c, err
	}
	if err := c.Webhook.secret(getenv); err != nil {
		return c, err
	}
	return c, c.check()
}

// publicKey reads --auth-public-key-file and checks --auth-jwks-url; the keys themselves
// are checked when the gateway starts.
func (c *config) publicKey() error {
	if c.AuthKeyFile != "" && c.AuthJWKSURL != "" {
		return errors.New("set --auth-public-key-file or --auth-jwks-url, not both")
	}
	if c.AuthKeyFile != "" {
		b, err := os.ReadFile(c.AuthKeyFile)
		if err != nil {
			return fmt.Errorf("--auth-public-key-file: %w", err)
		}
		c.AuthPublicKey = b
	}
	if c.AuthJWKSURL != "" {
		u, err := url.Parse(c.AuthJWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--auth-jwks-url %q: an http(s) URL is needed", c.AuthJWKSURL)
		}
	}
	return nil
}

// secret reads the token-mode secret from CHAT_AUTH_SECRET or --auth-secret-file.
func (c *config) secret(getenv func(string) string) error {
	env := getenv("CHAT_AUTH_SECRET")
	switch {
	case env != "" && c.AuthSecretFile != "":
		return errors.New("set CHAT_AUTH_SECRET or --auth-secret-file, not both")
	case env != "":
		c.AuthSecret = []byte(env)
	case c.AuthSecretFile != "":
		b, err := os.ReadFile(c.AuthSecretFile)
		if err != nil {
			return fmt.Errorf("--auth-secret-file: %w", err)
		}
		c.AuthSecret = bytes.TrimSpace(b)
	default:
		return nil
	}
	if len(c.AuthSecret) < auth.MinSecret {
		return fmt.Errorf("the auth secret must be at least %d bytes", auth.MinSecret)
	}
	return nil
}

// fromEnv sets every flag that has a CHAT_ variable.
func fromEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, serr)
			}
		}
	})
	return err
}

// check refuses values that would fail later.
func (c *config) check() error {
	var errs []error
	positive := func(name string, ok bool) {
		if !ok {
			errs = append(errs, fmt.Errorf("--%s must be greater than zero", name))
		}
	}
	positive("stream-replicas", c.StreamReplicas > 0)
	positive("history-depth", c.HistoryDepth > 0)
	positive("history-max-age", c.HistoryMaxAge > 0)
	positive("grace", c.Grace > 0)
	positive("send-budget", c.SendBudget > 0)
	positive("window", c.Window > 0)
	positive("write-timeout", c.WriteTimeout > 0)
	positive("shutdown-timeout", c.ShutdownTimeout > 0)
	positive("ping-interval", c.PingInterval > 0)
	for name, v := range map[string]float64{"message-rate": c.MessageRate, "message-burst": float64(c.MessageBurst),
		"command-rate": c.CommandRate, "command-burst": float64(c.CommandBurst), "max-conns": float64(c.MaxConns),
		"max-conns-per-user": float64(c.MaxConnsPerUser), "max-rooms": float64(c.MaxRooms),
		"connect-rate": c.ConnectRate, "connect-burst": float64(c.ConnectBurst), "user-connect-rate": c.UserConnectRate,
		"user-connect-burst": float64(c.UserConnectBurst), "room-create-rate": c.RoomCreateRate,
		"room-create-burst": float64(c.RoomCreateBurst), "history-reads": float64(c.HistoryReads),
		"room-expiry": c.RoomExpiry.Seconds(), "presence-coalesce": c.Coalesce.Seconds(),
		"write-linger": c.Linger.Seconds()} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("--%s must not be negative", name))
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080" // open mode: anyone who reaches it may speak as anyone
		if c.tokenMode() {
			c.Addr = ":8080"
		}
	}
	if c.StreamReplicas > 5 {
		errs = append(errs, errors.New("--stream-replicas must be at most 5"))
	}
	if c.NATSURL == "" && c.StreamReplicas > 1 {
		errs = append(errs, errors.New("--stream-replicas above 1 needs a NATS cluster (--nats-url): the embedded server is one node"))
	}
	if c.GatewayID == "" {
		c.GatewayID = defaultID()
	} else if !protocol.ValidName(c.GatewayID) {
		errs = append(errs, errors.New("--gateway-id must be 1 to 64 of A-Z a-z 0-9 _ -"))
	}
	if _, err := level(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, errors.New("--log-format must be text or json"))
	}
	return errors.Join(errs...)
}

// defaultID is the host name, made a valid id, plus a short random suffix.
func defaultID() string {
	host, _ := os.Hostname()
	b := []byte(host)
	for i, ch := range b {
		if !protocol.ValidName(string(ch)) {
			b[i] = '-'
		}
	}
	suffix := make([]byte, 3)
	rand.Read(suffix)
	id := strings.Trim(string(b), "-")
	if len(id) > 50 {
		id = id[:50]
	}
	if id == "" {
		id = "gw"
	}
	return id + "-" + hex.EncodeToString(suffix)
}

func level(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("--log-level: %q is not debug, info, warn or error", s)
	}
	return l, nil
}

func newLogger(c config, w io.Writer) *slog.Logger {
	l, _ := level(c.LogLevel)
	opts := &slog.HandlerOptions{Level: l}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// tokenMode reports whether clients must present tokens (a secret, a public key or a
// JWKS is configured); otherwise the gateway is in open mode.
func (c *config) tokenMode() bool {
	return c.AuthSecret != nil || c.AuthPublicKey != nil || c.AuthJWKSURL != ""
}

// origins splits --allowed-origins.
func (c *config) origins() []string {
	var out []string
	for _, o := range strings.Split(c.AllowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// coalesce is --presence-coalesce as the hub takes it: 0 on the command line means presence
// never waits, which the hub spells negative (its zero is the default).
func (c config) coalesce() time.Duration {
	if c.Coalesce == 0 {
		return -1
	}
	return c.Coalesce
}

// linger is gateway.Config.Linger: --write-linger 0 never waits.
func (c config) linger() time.Duration {
	if c.Linger == 0 {
		return -1
	}
	return c.Linger
}
