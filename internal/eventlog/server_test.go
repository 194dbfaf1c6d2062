package eventlog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/protocol"
)

// env is one embedded JetStream server with the event stream, for one test.
type env struct {
	t     *testing.T
	ctx   context.Context
	js    jetstream.JetStream
	store *history.Store
	sent  map[uint64][]byte // stored payload by id
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js := natstest.JetStream(t, natstest.Server(t, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	store, err := history.Open(ctx, js, history.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, js: js, store: store, sent: map[uint64][]byte{}}
}

// append stores n events spread over three rooms.
func (e *env) append(n int) {
	e.t.Helper()
	for i := range n {
		room := fmt.Sprintf("room-%d", i%3)
		ev := protocol.Event{ChatroomID: room, Type: protocol.TypeMessage, UserID: "u", Message: fmt.Sprintf("m%d", len(e.sent)), UnixTime: 1}
		payload := ev.Marshal()
		id, _, err := e.store.Append(e.ctx, room, payload, "", nil)
		if err != nil {
			e.t.Fatal(err)
		}
		e.sent[id] = payload
	}
}

// start runs Run on cfg; the returned func stops it and returns its error.
func (e *env) start(cfg Config) (stop func() error) {
	ctx, cancel := context.WithCancel(e.ctx)
	errc := make(chan error, 1)
	tw := testWriter{t: e.t, mu: new(sync.Mutex), done: new(bool)}
	log := slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() { errc <- Run(ctx, e.js, cfg, log) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-errc
	}
	e.t.Cleanup(func() {
		stop()
		tw.mu.Lock()
		*tw.done = true
		tw.mu.Unlock()
	})
	return stop
}

// waitLines polls path until it holds n complete lines, and returns them.
func (e *env) waitLines(path string, n int) []string {
	e.t.Helper()
	var lines []string
	_ = poll.Within(context.Background(), 20*time.Second, 5*time.Millisecond, func() bool {
		lines = readLines(e.t, path)
		return len(lines) >= n
	}) // the caller's check says what is missing
	return lines
}

// check fails unless lines are exactly the events with ids 1..n, each once, in order.
func (e *env) check(lines []string, n int) {
	e.t.Helper()
	if len(lines) != n {
		e.t.Fatalf("%d lines, want %d:\n%s", len(lines), n, strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		id := uint64(i + 1)
		if want := string(protocol.WithID(e.sent[id], id)); line != want {
			e.t.Fatalf("line %d = %s, want %s", i+1, line, want)
		}
	}
}

// readLines returns the complete lines of path.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return strings.Split(string(b[:i]), "\n")
	}
	return nil
}

// writeLines writes the events with these ids to path by hand, then tail verbatim.
func (e *env) writeLines(path string, ids []uint64, tail string) {
	e.t.Helper()
	var b bytes.Buffer
	for _, id := range ids {
		b.Write(protocol.WithID(e.sent[id], id))
		b.WriteByte('\n')
	}
	b.WriteString(tail)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// ackFloor returns the stream sequence up to which the consumer has acked everything.
func (e *env) ackFloor(durable string) (floor uint64, pending int) {
	e.t.Helper()
	c, err := e.js.Consumer(e.ctx, "CHAT_EVENTS", durable)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := c.Info(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return info.AckFloor.Stream, info.NumAckPending
}

func ids(from, to uint64) []uint64 {
	var s []uint64
	for id := from; id <= to; id++ {
		s = append(s, id)
	}
	return s
}

// testWriter logs through t until the test's cleanup marks it done (a late log would panic).
type testWriter struct {
	t    *testing.T
	mu   *sync.Mutex
	done *bool
}

func (w testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !*w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// validJSON fails unless every line is a JSON object.
func validJSON(t *testing.T, lines []string) {
	t.Helper()
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("line %d is not JSON: %q", i+1, l)
		}
	}
}
