// Package natsd runs an embedded NATS server with JetStream: inside the gateway when no NATS
// address is given, and on its own in cmd/natsembed, alone or as one node of a cluster.
package natsd

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config of an embedded server. Zero values are documented per field.
type Config struct {
	// Addr is host:port for clients; empty means 127.0.0.1:4222, port 0 picks a free one.
	Addr string
	// StoreDir holds JetStream's data; required.
	StoreDir string
	// ServerName names the server; empty lets NATS pick one (required for a cluster).
	ServerName string
	// ClusterName, ClusterAddr and Routes form a cluster; empty ClusterAddr means standalone.
	ClusterName string
	ClusterAddr string
	Routes      []string
	// HTTPAddr serves NATS monitoring (/varz, /jsz); empty means none.
	HTTPAddr string
	// DontListen serves only in-process clients (nats.InProcessServer); no TCP port.
	DontListen bool
	// Logs switches on the server's own log lines (to stderr).
	Logs bool
	// LameDuck is how long Stop takes to move clients away (lame-duck mode) before shutting
	// down; zero shuts down at once.
	LameDuck time.Duration
}

// Stop shuts a server down as cfg asks: in lame-duck mode — no new clients, the existing
// ones closed over cfg.LameDuck so they reconnect to the other nodes — or at once.
func Stop(ns *server.Server, cfg Config) {
	if cfg.LameDuck > 0 {
		ns.LameDuckShutdown()
	} else {
		ns.Shutdown()
	}
	ns.WaitForShutdown()
}

// Start starts a server and waits until it accepts clients.
func Start(cfg Config) (*server.Server, error) {
	opts, err := options(cfg)
	if err != nil {
		return nil, err
	}
	if err := free(opts); err != nil {
		return nil, err
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsd: %w", err)
	}
	if cfg.Logs {
		ns.ConfigureLogger()
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("natsd: server not ready after 10s")
	}
	return ns, nil
}

func options(cfg Config) (*server.Options, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("natsd: a store directory is required")
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:4222"
	}
	host, port, err := splitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("natsd: client address: %w", err)
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      !cfg.Logs,
		DontListen: cfg.DontListen,
		// Lame duck: a short grace before closing clients, then spread over LameDuck.
		LameDuckDuration:    cfg.LameDuck,
		LameDuckGracePeriod: min(cfg.LameDuck/5, time.Second),
	}
	if port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	if err := cluster(opts, cfg); err != nil {
		return nil, err
	}
	if cfg.HTTPAddr != "" {
		if opts.HTTPHost, opts.HTTPPort, err = splitHostPort(cfg.HTTPAddr); err != nil {
			return nil, fmt.Errorf("natsd: monitoring address: %w", err)
		}
	}
	return opts, nil
}

func cluster(opts *server.Options, cfg Config) error {
	if cfg.ClusterAddr == "" {
		if len(cfg.Routes) > 0 {
			return errors.New("natsd: routes need a cluster address")
		}
		return nil
	}
	if cfg.ServerName == "" || cfg.ClusterName == "" {
		return errors.New("natsd: a cluster needs a server name and a cluster name")
	}
	host, port, err := splitHostPort(cfg.ClusterAddr)
	if err != nil {
		return fmt.Errorf("natsd: cluster address: %w", err)
	}
	opts.Cluster = server.ClusterOpts{Name: cfg.ClusterName, Host: host, Port: port}
	for _, r := range cfg.Routes {
		urls := server.RoutesFromStr(r)
		if len(urls) == 0 {
			return fmt.Errorf("natsd: bad route %q", r)
		}
		opts.Routes = append(opts.Routes, urls...)
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// free checks that the client port can be listened on: nats-server, told to listen on a
// port in use, only fails to become ready after 10 s, without saying why. (Another process
// may still take the port in between; then it is the 10 s.)
func free(opts *server.Options) error {
	if opts.DontListen || opts.Port == server.RANDOM_PORT {
		return nil
	}
	addr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("natsd: cannot listen on %s (another NATS server running?): %w", addr, err)
	}
	return ln.Close()
}
