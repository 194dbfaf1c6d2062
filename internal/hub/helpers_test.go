package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

// feedCall is one Feeds.Start or Feeds.Stop call.
type feedCall struct {
	room  string
	epoch uint64
}

// fakeFeed records what the hub asks of the room feeds. The hub calls it on its goroutine,
// tests read it from theirs: the mutex guards the two slices only.
type fakeFeed struct {
	mu     sync.Mutex
	starts []feedCall
	stops  []feedCall
}

func (f *fakeFeed) Start(room string, epoch uint64, _ Sink) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, feedCall{room, epoch})
}

func (f *fakeFeed) Stop(room string, epoch uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, feedCall{room, epoch})
}

// calls returns copies of the starts and stops so far.
func (f *fakeFeed) calls() (starts, stops []feedCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.starts), slices.Clone(f.stops)
}

// epoch is the epoch of the room's latest start (0 if never started).
func (f *fakeFeed) epoch(room string) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.starts) - 1; i >= 0; i-- {
		if f.starts[i].room == room {
			return f.starts[i].epoch
		}
	}
	return 0
}

// active returns the epoch of the room's feed if it is started and not stopped.
func (f *fakeFeed) active(room string) (uint64, bool) {
	ep := f.epoch(room)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.stops {
		if c == (feedCall{room, ep}) {
			return ep, false
		}
	}
	return ep, ep != 0
}

// conn is a session with a cut function that records its codes.
type conn struct {
	*Session
	mu   sync.Mutex
	cuts []int
}

// newConn makes a session whose budget holds about capacity of the tests' small frames
// (ten bytes each).
func newConn(user, id string, capacity int) *conn {
	c := &conn{}
	c.Session = NewSession(user, id, user+"/"+id, 10*capacity, func() {}, func(code int, _ string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.cuts = append(c.cuts, code)
	})
	return c
}

// cutCodes returns the codes the session was cut with so far.
func (c *conn) cutCodes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cuts)
}

// drain returns everything queued for the session without blocking, as strings.
func (c *conn) drain() []string {
	var got []string
	for _, f := range c.Take(nil) {
		got = append(got, strings.Split(string(f.Data), "\n")...)
		c.Written(Size(f))
	}
	return got
}

// fixture is a running hub with a fake feed. Every helper that sends the hub something
// waits until the hub has handled it, so steps apply in the order the test wrote them.
type fixture struct {
	t    *testing.T
	h    *Hub
	feed *fakeFeed
	stop func()
}

// newFixture starts a hub; it must be called inside a synctest bubble.
func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	feed := &fakeFeed{}
	cfg.Feeds = feed
	h := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { h.Run(ctx); close(stopped) }()
	fx := &fixture{t: t, h: h, feed: feed, stop: sync.OnceFunc(func() { cancel(); <-stopped })}
	t.Cleanup(fx.stop)
	return fx
}

// ok fails the test at once on an error, then lets the hub handle what it was sent.
func (fx *fixture) ok(err error) {
	fx.t.Helper()
	if err != nil {
		fx.t.Fatal(err)
	}
	synctest.Wait()
}

// conn makes and registers a session.
func (fx *fixture) conn(user, id string, capacity int) *conn {
	c := newConn(user, id, capacity)
	fx.ok(fx.h.Register(c.Session))
	return c
}

// ev makes the event id of room; its frame reads "room:id".
func ev(room string, id uint64) Event {
	return Event{ID: id, Frame: &Frame{Data: fmt.Appendf(nil, "%s:%d", room, id)}}
}

// evs makes the events of room with the given ids.
func evs(room string, ids ...uint64) []Event {
	out := make([]Event, len(ids))
	for i, id := range ids {
		out[i] = ev(room, id)
	}
	return out
}

// names are the frames' strings of evs, as drain returns them.
func names(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Frame.Data)
	}
	return out
}

func (fx *fixture) reset(room string, lastID uint64) {
	fx.t.Helper()
	fx.ok(fx.h.Reset(room, fx.feed.epoch(room), lastID))
}

func (fx *fixture) deliver(room string, ids ...uint64) {
	fx.t.Helper()
	fx.ok(fx.h.Deliver(room, fx.feed.epoch(room), evs(room, ids...)))
}

type joinResult struct {
	t   Ticket
	err error
}

// joinAsync starts a Join that may wait; its result arrives on the channel.
func (fx *fixture) joinAsync(ctx context.Context, c *conn, room string, minID uint64) <-chan joinResult {
	res := make(chan joinResult, 1)
	go func() {
		t, err := fx.h.Join(ctx, c.Session, room, minID)
		res <- joinResult{t, err}
	}()
	synctest.Wait()
	return res
}

// join is a Join that must complete at once.
func (fx *fixture) join(c *conn, room string, minID uint64) Ticket {
	fx.t.Helper()
	select {
	case r := <-fx.joinAsync(context.Background(), c, room, minID):
		if r.err != nil {
			fx.t.Fatalf("join %s: %v", room, r.err)
		}
		return r.t
	default:
		fx.t.Fatalf("join %s is still waiting", room)
		return Ticket{}
	}
}

// joined hands the hub a reply reading "joined:room:upto" for ticket t, with tail.
func (fx *fixture) joined(c *conn, room string, t Ticket, tail ...string) {
	fx.t.Helper()
	r := Reply{Session: c.Session, Room: room, Gen: t.Gen, Reply: joinedFrame(room, t.Upto)}
	for _, s := range tail {
		r.Tail = append(r.Tail, &Frame{Data: []byte(s)})
	}
	fx.ok(fx.h.Joined(r))
}

// open joins c to a room that has no local member yet, resets its feed at lastID and
// makes c a live member.
func (fx *fixture) open(c *conn, room string, lastID uint64) Ticket {
	fx.t.Helper()
	res := fx.joinAsync(context.Background(), c, room, 0)
	fx.reset(room, lastID)
	r := <-res
	if r.err != nil {
		fx.t.Fatalf("join %s: %v", room, r.err)
	}
	fx.joined(c, room, r.t)
	return r.t
}

// live joins c to a ready room and makes it a live member at once.
func (fx *fixture) live(c *conn, room string) Ticket {
	fx.t.Helper()
	t := fx.join(c, room, 0)
	fx.joined(c, room, t)
	return t
}

func joinedFrame(room string, upto uint64) *Frame {
	return &Frame{Data: fmt.Appendf(nil, "joined:%s:%d", room, upto)}
}

func (fx *fixture) stats() Stats {
	fx.t.Helper()
	st, err := fx.h.Stats(context.Background())
	if err != nil {
		fx.t.Fatal(err)
	}
	return st
}

// expect fails the test unless got equals want.
func expect[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}
