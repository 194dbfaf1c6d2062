package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/coder/websocket"
)

// logWatch is run's log writer: it keeps the lines and reports the listening address.
type logWatch struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrc chan string
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	var rec struct{ Msg, Addr string }
	if json.Unmarshal(p, &rec) == nil && rec.Msg == "gateway listening" {
		w.addrc <- rec.Addr
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// started is one run of the command: its address, its log and its result.
type started struct {
	addr   string
	log    *logWatch
	cancel context.CancelFunc
	done   chan struct{} // closed when run has returned
	err    error         // what run returned; read after done
}

// start runs the command with embedded NATS storing in dir on a free port, and returns
// once it listens.
func start(t *testing.T, dir string, extra ...string) *started {
	t.Helper()
	args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--log-format", "json",
		"--gateway-id", "gw-run", "--shutdown-timeout", "5s", "--embedded-nats-addr", ""}, extra...)
	cfg, err := parse(args, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{log: &logWatch{addrc: make(chan string, 1)}, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(s.done); s.err = run(ctx, cfg, s.log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
		}
	})
	select {
	case s.addr = <-s.log.addrc:
	case <-s.done:
		t.Fatalf("run returned %v before listening; log:\n%s", s.err, s.log)
	case <-time.After(30 * time.Second):
		t.Fatalf("not listening after 30s; log:\n%s", s.log)
	}
	return s
}

// stop cancels the run and returns its result.
func (s *started) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case <-s.done:
		return s.err
	case <-time.After(30 * time.Second):
		t.Fatalf("run did not return 30s after its context ended; log:\n%s", s.log)
	}
	return nil
}

// run with embedded NATS serves; on ctx cancel a connected client gets the close event and
// 1001, and run returns nil. A second run on the same data dir has the first one's history.
func TestRunServesDrainsAndRestarts(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	resp, err := http.Get("http://" + s.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(page)), "<html") {
		t.Fatalf("GET /: %d %.80q", resp.StatusCode, page)
	}

	c := chattest.Dial(t, "ws://"+s.addr+"/ws", "alice", "a1")
	if w := c.Expect("welcome"); w.GatewayID != "gw-run" {
		t.Fatalf("welcome %s", w.Raw)
	}
	c.Join("lobby")
	c.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "kept", "ref": "k"})
	ack := c.Until("ack", nil)

	s.cancel()
	c.Until("close", nil)
	if code := c.Closed(); code != websocket.StatusGoingAway {
		t.Fatalf("closed with %d, want 1001", code)
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("run returned %v", err)
	}

	s = start(t, dir)
	var h struct{ Events []chattest.Msg }
	resp, err = http.Get("http://" + s.addr + "/history?chatroomId=lobby")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range h.Events {
		found = found || (ev.ID == ack.ID && ev.Message == "kept")
	}
	if !found {
		t.Fatalf("after a restart, the history of lobby lacks event %d: %+v", ack.ID, h.Events)
	}
	if err := s.stop(t); err != nil {
		t.Fatalf("second run returned %v", err)
	}
}

// A data dir that cannot be used makes run return an error, not hang or panic.
func TestRunFailsOnABadDataDir(t *testing.T) {
	file := t.TempDir() + "/file"
	if err := writeFile(file); err != nil {
		t.Fatal(err)
	}
	cfg, err := parse([]string{"--addr", "127.0.0.1:0", "--data-dir", file + "/sub", "--embedded-nats-addr", "none"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, cfg, io.Discard); err == nil {
		t.Fatal("run with a data dir under a file returned nil")
	}
}

func writeFile(path string) error { return os.WriteFile(path, []byte("not a directory"), 0o600) }
