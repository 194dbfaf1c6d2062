// Command bench puts the same WebSocket fan-out load on a chat server — our gateway,
// Centrifugo or kinluek/go-chat — and reports delivered messages per second, end-to-end
// latency, lost, duplicated and out-of-order deliveries, and the server's memory and CPU.
// "bench table FILE..." prints a table of the JSON summaries that runs wrote, "bench compare
// FILE..." the same as a Markdown table with the targets side by side. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

type config struct {
	target     string        // chat, centrifugo or gochat
	mode       string        // load or idle
	urls       []string      // WebSocket base URLs; clients are spread over them
	clients    int           // connections, each joined to one room
	rooms      int           // client i is in room i % rooms
	publishers int           // clients 0..publishers-1 also publish
	rate       float64       // messages a second over all publishers; 0: window-paced
	window     int           // unanswered messages per publisher when rate is 0
	size       int           // bytes of message text
	warmup     time.Duration // load before measuring; its messages are not counted
	duration   time.Duration // measurement (load) or wait (idle)
	drain      time.Duration // longest wait for late deliveries after the measurement
	pid        int           // server process to read RSS and CPU of; 0: none
	dialers    int           // connections being opened at once
	namespace  string        // Centrifugo channel namespace
	cpuProfile string        // file to write the bench's own CPU profile to
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "table" || os.Args[1] == "compare") {
		print := printTable
		if os.Args[1] == "compare" {
			print = printCompare
		}
		if err := print(os.Stdout, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runBench(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var urls string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.target, "target", "", "server protocol: chat (our gateway), centrifugo or gochat")
	fs.StringVar(&cfg.mode, "mode", "load", "load: publish and measure delivery; idle: hold connections and measure server memory")
	fs.StringVar(&urls, "urls", "ws://127.0.0.1:8080", "comma-separated WebSocket base URLs; a URL without a path gets the target's (/ws, /connection/websocket, /chat)")
	fs.IntVar(&cfg.clients, "clients", 1000, "connections")
	fs.IntVar(&cfg.rooms, "rooms", 10, "rooms; client i joins room i % rooms")
	fs.IntVar(&cfg.publishers, "publishers", 10, "clients that also publish: clients 0 .. publishers-1")
	fs.Float64Var(&cfg.rate, "rate", 1000, "messages per second over all publishers, paced evenly; 0: as fast as answers allow, --window per publisher")
	fs.IntVar(&cfg.window, "window", 10, "with --rate 0, unanswered messages allowed per publisher")
	fs.IntVar(&cfg.size, "size", 100, "bytes of message text (at least the marker, about 40 bytes)")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "load before measuring; not counted")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measurement (load) or wait with connections open (idle)")
	fs.DurationVar(&cfg.drain, "drain", 5*time.Second, "longest wait for late deliveries and answers after the measurement")
	fs.IntVar(&cfg.pid, "pid", 0, "server process id: report its RSS and CPU from /proc")
	fs.IntVar(&cfg.dialers, "dialers", 64, "connections opened at once")
	fs.StringVar(&cfg.namespace, "namespace", "chat", "centrifugo: channel namespace; rooms are NAMESPACE:roomN")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write the bench's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for u := range strings.SplitSeq(urls, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.urls = append(cfg.urls, u)
		}
	}
	return cfg, cfg.validate()
}

func (cfg config) validate() error {
	switch {
	case cfg.target != "chat" && cfg.target != "centrifugo" && cfg.target != "gochat":
		return fmt.Errorf("--target must be chat, centrifugo or gochat, not %q", cfg.target)
	case cfg.mode != "load" && cfg.mode != "idle":
		return fmt.Errorf("--mode must be load or idle, not %q", cfg.mode)
	case len(cfg.urls) == 0:
		return errors.New("--urls is empty")
	case cfg.clients < 1 || cfg.rooms < 1 || cfg.rooms > cfg.clients:
		return fmt.Errorf("need 1 <= rooms (%d) <= clients (%d)", cfg.rooms, cfg.clients)
	case cfg.target == "gochat" && cfg.rooms != 1:
		return errors.New("gochat has one room: use --rooms 1")
	case cfg.mode == "load" && (cfg.publishers < 1 || cfg.publishers > cfg.clients):
		return fmt.Errorf("need 1 <= publishers (%d) <= clients (%d)", cfg.publishers, cfg.clients)
	case cfg.rate < 0 || cfg.window < 1 || cfg.size < 0 || cfg.dialers < 1:
		return errors.New("--rate, --size must be >= 0; --window, --dialers >= 1")
	case cfg.duration <= 0 || cfg.warmup < 0 || cfg.drain < 0:
		return errors.New("--duration must be > 0; --warmup, --drain >= 0")
	}
	return nil
}

func (cfg config) protocol() protocol {
	switch cfg.target {
	case "chat":
		return chat{}
	case "centrifugo":
		return centrifugo{namespace: cfg.namespace}
	default:
		return gochat{}
	}
}

// runBench runs one load or idle test, printing progress to stderr and the JSON summary
// to stdout, then the one-line account to stderr.
func runBench(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if cfg.mode == "idle" {
		cfg.publishers = 0
	}
	if cfg.pid != 0 && !readUsage(cfg.pid).ok {
		return fmt.Errorf("cannot read /proc/%d: is --pid the server's process id?", cfg.pid)
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r := newRun(cfg, cfg.protocol())
	var s summary
	if cfg.mode == "idle" {
		s = r.idle(ctx, stderr)
	} else {
		s = r.load(ctx, stderr)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	fmt.Fprintln(stderr, s.human())
	if s.Connected == 0 {
		return errors.New("no client could join")
	}
	return ctx.Err()
}
