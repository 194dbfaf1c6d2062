// Command natsembed runs the gateway's embedded NATS server with JetStream on its own, so
// several gateways can share it, or three of them can form a cluster.
//
//	natsembed --addr 127.0.0.1:4222 --store-dir ./data/nats
//	natsembed --server-name n1 --cluster-name chat --cluster-addr 127.0.0.1:6222 \
//	          --routes nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chathub/chathub/internal/natsd"
)

func main() {
	cfg, err := parse(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsembed:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("natsembed stopped", "err", err)
		os.Exit(1)
	}
}

func parse(args []string, out io.Writer) (natsd.Config, error) {
	var cfg natsd.Config
	var routes string
	fs := flag.NewFlagSet("natsembed", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:4222", "client address host:port (port 0 picks one)")
	fs.StringVar(&cfg.StoreDir, "store-dir", "./data/nats", "JetStream storage directory")
	fs.StringVar(&cfg.ServerName, "server-name", "", "server name (required in a cluster)")
	fs.StringVar(&cfg.ClusterName, "cluster-name", "", "cluster name (required in a cluster)")
	fs.StringVar(&cfg.ClusterAddr, "cluster-addr", "", "cluster route address host:port; empty runs standalone")
	fs.StringVar(&routes, "routes", "", "comma-separated route URLs of all cluster nodes (nats://host:port,...)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "", "NATS monitoring address host:port; empty for none")
	fs.BoolVar(&cfg.Logs, "server-logs", false, "print the NATS server's own log lines")
	fs.DurationVar(&cfg.LameDuck, "lame-duck", 5*time.Second, "on SIGTERM, move clients to other nodes over this long before stopping; 0 stops at once")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.LameDuck < 0 {
		return cfg, errors.New("--lame-duck must not be negative")
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, r := range strings.Split(routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			cfg.Routes = append(cfg.Routes, r)
		}
	}
	return cfg, nil
}

func run(ctx context.Context, cfg natsd.Config, logger *slog.Logger) error {
	ns, err := natsd.Start(cfg)
	if err != nil {
		return err
	}
	logger.Info("nats listening", "url", ns.ClientURL(), "store", cfg.StoreDir,
		"server", ns.Name(), "cluster", cfg.ClusterName, "cluster_addr", cfg.ClusterAddr)
	<-ctx.Done()
	logger.Info("nats shutting down", "lame_duck", cfg.LameDuck)
	natsd.Stop(ns, cfg)
	logger.Info("nats stopped")
	return nil
}
