// Command chatload is a load generator for the chat gateway: many WebSocket
// clients in many rooms, some of them publishing, every receiver checking each
// message for loss, duplication, reordering and end-to-end latency.
// See docs/chatload.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		stop()
		os.Exit(1)
	}
}

// parseFlags turns the command line into a Config.
func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("chatload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("url", "ws://127.0.0.1:8080/ws", "gateway WebSocket URLs, comma-separated; clients are spread round-robin")
	fs.IntVar(&cfg.Clients, "clients", 100, "connections (one session each)")
	fs.IntVar(&cfg.Rooms, "rooms", 10, "rooms, named <room-prefix>-0 ...")
	fs.IntVar(&cfg.RoomsPerClient, "rooms-per-client", 1, "rooms each client joins")
	fs.StringVar(&cfg.RoomPrefix, "room-prefix", "load", "room name prefix")
	fs.IntVar(&cfg.Publishers, "publishers", 10, "clients that also publish (the first ones); 0 means idle mode")
	fs.Float64Var(&cfg.Rate, "rate", 1000, "total messages per second over all publishers; 0 = as fast as acks allow")
	fs.IntVar(&cfg.Window, "window", 1, "messages a publisher may have unacknowledged")
	fs.IntVar(&cfg.Messages, "messages", 0, "stop each publisher after this many messages (0 = run for --duration)")
	fs.IntVar(&cfg.Size, "size", 64, "message body size in bytes")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to publish (or, idle, to hold the connections)")
	fs.DurationVar(&cfg.Drain, "drain", 10*time.Second, "longest wait for stragglers after publishing")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", 60*time.Second, "longest wait for all clients to connect and join")
	fs.StringVar(&cfg.TokenSecret, "token-secret", "", "HS256 secret: connect in token mode with JWTs signed by it")
	fs.BoolVar(&cfg.Idle, "idle", false, "only connect, join and hold (memory per idle connection)")
	soak := fs.Duration("soak", 0, "soak mode for this long: sample each gateway's /metrics and judge growth")
	fs.DurationVar(&cfg.SampleEvery, "sample-every", 10*time.Second, "soak sampling period")
	fs.Float64Var(&cfg.SoakThreshold, "soak-threshold", 0.2, "allowed soak growth, last third vs first third (0.2 = 20%)")
	fs.DurationVar(&cfg.Progress, "progress", time.Second, "progress line period on stderr (0 = none)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the summary as JSON")
	fs.StringVar(&cfg.RunID, "run-id", "", "marks this run's messages (default random)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chatload: unexpected arguments %q\n", fs.Args())
		return cfg, errors.New("chatload: unexpected arguments")
	}
	for u := range strings.SplitSeq(*urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.URLs = append(cfg.URLs, u)
		}
	}
	if cfg.Progress == 0 {
		cfg.Progress = -1 // Config's zero means the default
	}
	if *soak > 0 {
		cfg.Soak, cfg.Duration = true, *soak
	}
	return cfg, nil
}
