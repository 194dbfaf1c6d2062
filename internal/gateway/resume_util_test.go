package gateway_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/nats-io/nats-server/v2/server"
)

// storeOf opens the event stream of ns, the way a gateway does, to check what it holds.
func storeOf(t testing.TB, ns *server.Server) *history.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := history.Open(ctx, natstest.JetStream(t, ns), history.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storedIDs returns the ids of every stored event of room, oldest first.
func storedIDs(t testing.TB, st *history.Store, room string) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []uint64
	var since uint64
	for {
		evs, more, err := st.After(ctx, room, since, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			out = append(out, ev.ID)
			since = ev.ID
		}
		if !more {
			return out
		}
	}
}

// dialLines connects user/session for a goroutine of its own, where chattest.Client (which
// fails the test from its calls) cannot be used: every object the gateway sends is handed,
// raw, to onLine on the reading goroutine, without being decoded or kept (scan it with
// chatclient.Scan).
func dialLines(ctx context.Context, wsURL, user, session string, onLine func([]byte)) (*chatclient.Conn, error) {
	return chatclient.Dial(ctx, wsURL, user, session, chatclient.Options{OnLine: onLine})
}

// waitEnd waits for the reader of c to end (after close) within d and returns why it ended.
func waitEnd(c *chatclient.Conn, d time.Duration) error {
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(d):
		return fmt.Errorf("still reading after %v", d)
	}
}

// poster is a chatclient.Session that posts to a room with at most window messages
// unacknowledged, until finished.
type poster struct {
	s    *chatclient.Session
	done chan struct{} // closed when the session's connection has ended
}

// startPoster connects user to the gateway at wsURL, joins room and posts until finish.
func startPoster(t testing.TB, wsURL, user, room string, window int) *poster {
	t.Helper()
	s := chatclient.New(chatclient.Config{URL: wsURL, User: user, Session: user + "-s",
		Rooms: []string{room}, Publish: room, InFlight: window})
	ctx, cancel := context.WithCancel(context.Background())
	p := &poster{s: s, done: make(chan struct{})}
	go func() { defer close(p.done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-p.done })
	p.wait(t, "joined", s.Joined)
	s.SetPublishing(true)
	return p
}

// wait waits until cond holds, failing when the poster's connection ends first.
func (p *poster) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * chattest.Timeout)
	for !cond() {
		select {
		case <-p.done:
			t.Fatalf("poster: connection ended before %s: %+v", what, p.s.Stats())
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("poster: not %s within %v: %+v", what, 2*chattest.Timeout, p.s.Stats())
		}
	}
}

// count is how many posts have been acknowledged so far.
func (p *poster) count() int { return len(p.s.Acked()) }

// waitCount waits until at least n posts are acknowledged.
func (p *poster) waitCount(t testing.TB, n int) {
	t.Helper()
	p.wait(t, fmt.Sprint(n, " acks"), func() bool { return p.count() >= n })
}

// finish stops posting, waits for the outstanding acks and returns every acked id, in
// order.
func (p *poster) finish(t testing.TB) []uint64 {
	t.Helper()
	p.s.SetPublishing(false)
	p.wait(t, "acknowledged", func() bool { return p.s.PendingIn("") == 0 })
	st := p.s.Stats()
	if len(st.Errors) > 0 || len(st.Problems) > 0 {
		t.Fatalf("poster: errors %v, problems %v", st.Errors, st.Problems)
	}
	var ids []uint64
	for _, a := range p.s.Acked() {
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}
