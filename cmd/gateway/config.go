package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/chathub/chathub/internal/protocol"
)

// config is everything the command line and the environment set.
type config struct {
	Addr            string
	NATSURL         string
	DataDir         string
	GatewayID       string
	StreamReplicas  int
	HistoryDepth    int64
	HistoryMaxAge   time.Duration
	Grace           time.Duration
	SendQueue       int
	Window          int
	WriteTimeout    time.Duration
	EventLog        string
	ShutdownTimeout time.Duration
	LogLevel        string
	LogFormat       string
}

// envPrefix: every flag can also be set as CHAT_<FLAG>, e.g. CHAT_NATS_URL for --nats-url.
// A flag given on the command line wins over the environment.
const envPrefix = "CHAT_"

func parse(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Addr, "addr", ":8080", "HTTP listen address (host:port; port 0 picks one)")
	fs.StringVar(&c.NATSURL, "nats-url", "", "NATS server URLs, comma-separated; empty embeds a NATS server with JetStream")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "storage of the embedded NATS server")
	fs.StringVar(&c.GatewayID, "gateway-id", "", "this gateway's id (default: host name plus a short random suffix)")
	fs.IntVar(&c.StreamReplicas, "stream-replicas", 1, "replicas of the event stream and buckets (3 on a NATS cluster)")
	fs.Int64Var(&c.HistoryDepth, "history-depth", 10000, "events kept per room")
	fs.DurationVar(&c.HistoryMaxAge, "history-max-age", 30*24*time.Hour, "how long events are kept")
	fs.DurationVar(&c.Grace, "grace", 10*time.Second, "how long a dropped session still counts as present")
	fs.IntVar(&c.SendQueue, "send-queue", 256, "frames queued per session before it is closed as too slow (4000)")
	fs.IntVar(&c.Window, "window", 256, "recent events kept in memory per active room")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", 10*time.Second, "deadline of every write to a client")
	fs.StringVar(&c.EventLog, "event-log", "", "append every stored event to this file as a JSON line")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long draining may take on SIGTERM")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	if err := fromEnv(fs, getenv); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, c.check()
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
	positive("send-queue", c.SendQueue > 0)
	positive("window", c.Window > 0)
	positive("write-timeout", c.WriteTimeout > 0)
	positive("shutdown-timeout", c.ShutdownTimeout > 0)
	if c.StreamReplicas > 5 {
		errs = append(errs, errors.New("--stream-replicas must be at most 5"))
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
