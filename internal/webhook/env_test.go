package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/protocol"
)

var secret = []byte("0123456789abcdef-test-secret")

// env is one embedded JetStream server with the event stream and one receiver, for one test.
type env struct {
	t     *testing.T
	ctx   context.Context
	ns    *server.Server
	store *history.Store
	rcv   *receiver
	url   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ns := natstest.Server(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	store, err := history.Open(ctx, natstest.JetStream(t, ns), history.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rcv := &receiver{t: t, answer: func(*http.Request) int { return http.StatusOK }}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	return &env{t: t, ctx: ctx, ns: ns, store: store, rcv: rcv, url: srv.URL}
}

// config is a test configuration: every wait short.
func (e *env) config(gw string) Config {
	return Config{URL: e.url, Secret: secret, FromStart: true, Gateway: gw,
		Timeout: time.Second, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		AckWait: 2 * time.Second, PinnedTTL: 3 * time.Second, Poll: 200 * time.Millisecond}
}

// append stores n events over three rooms.
func (e *env) append(n int) {
	e.t.Helper()
	for i := range n {
		room := fmt.Sprintf("room-%d", i%3)
		ev := protocol.Event{ChatroomID: room, Type: protocol.TypeMessage, UserID: "u", Message: "m" + strconv.Itoa(i), UnixTime: 1}
		if _, _, err := e.store.Append(e.ctx, room, ev.Marshal(), "", nil); err != nil {
			e.t.Fatal(err)
		}
	}
}

// gateway is one running deliverer on a NATS connection of its own.
type gateway struct {
	d    *Deliverer
	nc   *nats.Conn
	stop func() // ends Run and waits for it
}

// start opens a deliverer with cfg on a new connection and runs it until stop or the test's end.
func (e *env) start(cfg Config) *gateway {
	e.t.Helper()
	nc, err := nats.Connect(e.ns.ClientURL())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := Open(e.ctx, js, cfg, log)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return &gateway{d: d, nc: nc, stop: stop}
}

// batch is one request the receiver answered with a 2xx.
type batch struct {
	ids      []uint64
	delivery string
	agent    string
}

// receiver is the webhook's HTTP endpoint: it checks every request's signature and headers
// and records the batches it accepts.
type receiver struct {
	t      *testing.T
	mu     sync.Mutex
	answer func(*http.Request) int // status of the next request; called under mu
	tries  int                     // requests received
	got    []batch                 // accepted, in order
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client gave up (a timeout)
	}
	if err := verify(r.Header.Get("Chat-Signature"), body); err != nil {
		rc.t.Errorf("bad signature: %v", err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		rc.t.Errorf("Content-Type %q", ct)
	}
	var msg struct {
		Events []struct {
			ID uint64 `json:"id"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || len(msg.Events) == 0 {
		rc.t.Errorf("body %q: %v", body, err)
		return
	}
	b := batch{delivery: r.Header.Get("Chat-Delivery"), agent: r.UserAgent()}
	for _, ev := range msg.Events {
		b.ids = append(b.ids, ev.ID)
	}
	if want := fmt.Sprintf("%d-%d", b.ids[0], b.ids[len(b.ids)-1]); b.delivery != want {
		rc.t.Errorf("Chat-Delivery %q, want %q", b.delivery, want)
	}
	rc.mu.Lock()
	rc.tries++
	status := rc.answer(r)
	if status/100 == 2 {
		rc.got = append(rc.got, b)
	}
	rc.mu.Unlock()
	w.WriteHeader(status)
}

// setAnswer replaces how the receiver answers.
func (rc *receiver) setAnswer(f func(*http.Request) int) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

// verify checks a Chat-Signature as a receiver would: HMAC-SHA256 of "<t>.<body>", and t
// within 5 minutes.
func verify(header string, body []byte) error {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("no timestamp in %q", header)
	}
	if d := time.Since(time.Unix(t, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %d too far from now", t)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + string(body)))
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("signature %q does not match", header)
	}
	return nil
}

// waitFor polls cond until it holds, failing the test after 30s.
func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	if err := poll.Within(context.Background(), 30*time.Second, 10*time.Millisecond, cond); err != nil {
		e.t.Fatalf("timed out waiting for %s", what)
	}
}

// waitDelivered waits until the receiver has accepted every id up to last, and returns what
// it accepted.
func (e *env) waitDelivered(last uint64) []batch {
	e.t.Helper()
	var got []batch
	e.waitFor(fmt.Sprintf("id %d delivered", last), func() bool {
		e.rcv.mu.Lock()
		defer e.rcv.mu.Unlock()
		got = append([]batch(nil), e.rcv.got...)
		return len(got) > 0 && got[len(got)-1].ids[len(got[len(got)-1].ids)-1] >= last
	})
	return got
}

// checkOrder fails unless the batches deliver first..last in order, none skipped, each batch
// consecutive ids and at most max of them. A batch may repeat earlier ids (a retry) only
// when dup is true.
func checkOrder(t *testing.T, got []batch, first, last uint64, max int, dup bool) {
	t.Helper()
	next := first // the lowest id not yet delivered
	for i, b := range got {
		if len(b.ids) > max {
			t.Fatalf("batch %d has %d events, more than %d", i, len(b.ids), max)
		}
		for j := 1; j < len(b.ids); j++ {
			if b.ids[j] != b.ids[j-1]+1 {
				t.Fatalf("batch %d (%s) is not consecutive: %v", i, b.delivery, b.ids)
			}
		}
		switch {
		case b.ids[0] > next:
			t.Fatalf("batch %d (%s) skips ahead of %d", i, b.delivery, next)
		case b.ids[0] < next && !dup:
			t.Fatalf("batch %d (%s) repeats ids below %d", i, b.delivery, next)
		}
		next = max64(next, b.ids[len(b.ids)-1]+1)
	}
	if next != last+1 {
		t.Fatalf("delivered up to %d, want %d", next-1, last)
	}
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// counter is the value of one of d's counters, by name, as Prometheus would scrape it.
func counter(t *testing.T, d *Deliverer, name string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(d.metrics.delivered, d.metrics.failed)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// testWriter logs through t.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
