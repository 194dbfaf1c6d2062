package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
)

// The tests of the control plane run real planes on an embedded JetStream server, with a
// clock they move by hand. No plane sweeps on its own: a test sweeps with newSweeper(p).sweep
// after moving the clock, so what is stored when is decided by the test alone.

// clock is a fake Config.Now shared by the planes of a test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock on by d and returns the new time.
func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// fakeLocal records what a plane asks of its gateway's own sessions.
type fakeLocal struct {
	mu       sync.Mutex
	notices  []string // "online alice"; barriers as "barrier <token>"
	kicks    []string // "alice s1 c1"
	privates []string // "<room> alice bob": alice opened the room with bob
	closes   []string // "alice s1 4002 reason"
	bans     []string // "<room> troll"
}

func (l *fakeLocal) Notice(data []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(string(data), "\n") {
		var ev protocol.Event
		if json.Unmarshal([]byte(line), &ev) != nil {
			l.notices = append(l.notices, "undecodable "+line)
			continue
		}
		l.notices = append(l.notices, ev.Type+" "+ev.UserID)
	}
}

func (l *fakeLocal) Kick(user, session, conn string, code int, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := user + " " + session + " " + conn
	if code != protocol.CloseReplaced {
		k += " " + strconv.Itoa(code)
	}
	l.kicks = append(l.kicks, k)
}

func (l *fakeLocal) PrivateOpened(room, user, peer string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.privates = append(l.privates, room+" "+user+" "+peer)
}

func (l *fakeLocal) Banned(room, user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bans = append(l.bans, room+" "+user)
}

func (l *fakeLocal) RoomDeleted(string) <-chan struct{} {
	done := make(chan struct{})
	close(done)
	return done
}

func (l *fakeLocal) kicked() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.kicks)
}

func (l *fakeLocal) opened() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.privates)
}

// world is one NATS server, its event stream and a clock: the gateways of a test share them.
type world struct {
	t     *testing.T
	ctx   context.Context
	ns    *server.Server
	clock *clock
	store *history.Store
	cfg   Config // the Grace and Heartbeat of every gateway
	gws   []*gateway
}

// newWorld starts a server and opens the event stream. grace and heartbeat are the planes'
// Config.Grace and Config.Heartbeat. A heartbeat of a minute or more never expires, and
// never beats again, during a test.
func newWorld(t *testing.T, grace, heartbeat time.Duration) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	ns := natstest.Server(t, "")
	store, err := history.Open(ctx, natstest.JetStream(t, ns), history.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, ctx: ctx, ns: ns, clock: newClock(), store: store,
		cfg: Config{Grace: grace, Heartbeat: heartbeat}}
}

// gateway is one plane with its own NATS connection and fake Local.
type gateway struct {
	*Plane
	w       *world
	nc      *nats.Conn
	local   *fakeLocal
	stop    func() // ends Run and waits for it
	running bool   // between launch and halt
}

// open opens a plane of gateway id (a new run of it), without running it.
func (w *world) open(id string) *gateway {
	w.t.Helper()
	nc, err := nats.Connect(w.ns.ClientURL())
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(nc.Close)
	cfg := w.cfg
	cfg.GatewayID, cfg.Now = id, w.clock.Now
	local := &fakeLocal{}
	p, err := Open(w.ctx, nc, w.store, cfg, local, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		w.t.Fatal(err)
	}
	p.sweepEvery = time.Hour // the test sweeps
	g := &gateway{Plane: p, w: w, nc: nc, local: local}
	w.gws = append(w.gws, g)
	return g
}

// start opens and runs a plane of gateway id.
func (w *world) start(id string) *gateway {
	w.t.Helper()
	g := w.open(id)
	g.launch()
	return g
}

// launch runs the plane until halt or the end of the test, and returns once it is ready.
func (g *gateway) launch() {
	g.w.t.Helper()
	ctx, cancel := context.WithCancel(g.w.ctx)
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() { done <- g.Run(ctx, ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		g.w.t.Fatalf("gateway %s: Run: %v", g.cfg.GatewayID, err)
	case <-g.w.ctx.Done():
		g.w.t.Fatalf("gateway %s: not ready", g.cfg.GatewayID)
	}
	g.running = true
	var once sync.Once
	g.stop = func() {
		once.Do(func() {
			g.running = false
			cancel()
			if err := <-done; err != nil {
				g.w.t.Errorf("gateway %s: Run: %v", g.cfg.GatewayID, err)
			}
		})
	}
	g.w.t.Cleanup(g.stop)
}

// halt ends the plane's Run, as when its process dies: its records and its heartbeat stay.
func (g *gateway) halt() { g.stop() }

// sweep sweeps once, as the plane's own loop would, with a sweeper that remembers nothing.
func (g *gateway) sweep() { newSweeper(g.Plane).sweep(g.w.ctx) }

// connect connects a session through this gateway; it must take nothing over.
func (g *gateway) connect(user, session, conn string) {
	g.w.t.Helper()
	took, err := g.Connect(g.w.ctx, user, session, conn)
	if err != nil {
		g.w.t.Fatalf("Connect %s %s %s: %v", user, session, conn, err)
	}
	if took != nil {
		g.w.t.Fatalf("Connect %s %s %s took over %+v", user, session, conn, *took)
	}
}

// takeOver connects a session through this gateway that must take over connection old of
// another gateway, and kicks it there.
func (g *gateway) takeOver(user, session, conn, old string) {
	g.w.t.Helper()
	took, err := g.Connect(g.w.ctx, user, session, conn)
	if err != nil {
		g.w.t.Fatalf("Connect %s %s %s: %v", user, session, conn, err)
	}
	if took == nil || took.Conn != old || took.GatewayID == g.cfg.GatewayID {
		g.w.t.Fatalf("Connect %s %s %s took over %+v, want %s on another gateway", user, session, conn, took, old)
	}
	g.Kick(g.w.ctx, user, session, took)
}

// join joins a room and returns the id of the event it stored (0: none).
func (g *gateway) join(user, session, conn, room string) uint64 {
	g.w.t.Helper()
	id, _, err := g.JoinRoom(g.w.ctx, user, session, conn, room)
	if err != nil {
		g.w.t.Fatalf("JoinRoom %s %s %s %s: %v", user, session, conn, room, err)
	}
	return id
}

func (g *gateway) leave(user, session, conn, room string) {
	g.w.t.Helper()
	if err := g.LeaveRoom(g.w.ctx, user, session, conn, room); err != nil {
		g.w.t.Fatalf("LeaveRoom %s %s %s %s: %v", user, session, conn, room, err)
	}
}

func (g *gateway) disconnect(user, session, conn string, left bool) {
	g.w.t.Helper()
	if err := g.Disconnect(g.w.ctx, user, session, conn, left); err != nil {
		g.w.t.Fatalf("Disconnect %s %s %s: %v", user, session, conn, err)
	}
}

// record reads a session's record from the bucket; nil when there is none.
func (g *gateway) record(user, session string) *sessionRecord {
	g.w.t.Helper()
	rec, _, err := get[sessionRecord](g.w.ctx, g.bucket.kv, sessionKey(user, session))
	if err != nil {
		g.w.t.Fatal(err)
	}
	return rec
}

// members reads the sessions of user counted in room from the bucket.
func (g *gateway) members(room, user string) []string {
	g.w.t.Helper()
	rec, _, err := get[setRecord](g.w.ctx, g.bucket.kv, memberKey(room, user))
	if err != nil {
		g.w.t.Fatal(err)
	}
	if rec == nil {
		return nil
	}
	return rec.Sessions
}

// sees waits until the plane's local copy holds a session record for which ok holds (rec
// nil: no record), as the sweeper will find it.
func (g *gateway) sees(user, session string, ok func(rec *sessionRecord) bool) {
	g.w.t.Helper()
	key := sessionKey(user, session)
	var last *sessionRecord
	waitFor(g.w.t, g.w.ctx, "the local copy of "+g.cfg.GatewayID+" to show "+key, func() bool {
		g.state.mu.Lock()
		defer g.state.mu.Unlock()
		last = nil
		if rec := g.state.sessions[key]; rec != nil {
			cp := *rec
			last = &cp
		}
		return ok(last)
	})
}

// notices waits until every notice published so far by every gateway of the world has
// reached this gateway's Local, and returns the online/offline notices it received, in order.
// A barrier published on each gateway's connection after its notices is the mark: NATS keeps
// the order of one connection's messages.
func (g *gateway) notices() []string {
	g.w.t.Helper()
	var want []string
	for _, o := range g.w.gws {
		token := "barrier " + uuid.NewString()
		ev := protocol.Event{Type: "barrier", UserID: strings.TrimPrefix(token, "barrier ")}
		if err := o.nc.Publish(subject.Users, ev.Marshal()); err != nil {
			g.w.t.Fatal(err)
		}
		want = append(want, token)
	}
	var got []string
	waitFor(g.w.t, g.w.ctx, "the barriers to reach "+g.cfg.GatewayID, func() bool {
		g.local.mu.Lock()
		defer g.local.mu.Unlock()
		got = nil
		seen := 0
		for _, n := range g.local.notices {
			switch {
			case slices.Contains(want, n):
				seen++
			case !strings.HasPrefix(n, "barrier "):
				got = append(got, n)
			}
		}
		return seen == len(want)
	})
	return got
}

// events returns the stored events of room, oldest first, as "join alice s1".
func (w *world) events(room string) []string {
	w.t.Helper()
	stored := w.stored(room)
	out := make([]string, 0, len(stored))
	for _, s := range stored {
		out = append(out, s.str)
	}
	return out
}

type storedEvent struct {
	id  uint64
	str string
}

func (w *world) stored(room string) []storedEvent {
	w.t.Helper()
	evs, more, err := w.store.After(w.ctx, room, 0, 0, 1000)
	if err != nil {
		w.t.Fatal(err)
	}
	if more {
		w.t.Fatalf("room %s holds more than 1000 events", room)
	}
	out := make([]storedEvent, 0, len(evs))
	for _, s := range evs {
		var ev protocol.Event
		if err := json.Unmarshal(s.Data, &ev); err != nil {
			w.t.Fatalf("event %d of %s: %v", s.ID, room, err)
		}
		if ev.ChatroomID != room {
			w.t.Errorf("event %d of %s names room %q", s.ID, room, ev.ChatroomID)
		}
		out = append(out, storedEvent{id: s.ID, str: ev.Type + " " + ev.UserID + " " + ev.SessionID})
	}
	return out
}

// wantEvents checks that exactly want are stored for room, in order.
func (w *world) wantEvents(room string, want ...string) {
	w.t.Helper()
	if got := w.events(room); !slices.Equal(got, want) {
		w.t.Errorf("stored events of %s:\n got %q\nwant %q", room, got, want)
	}
}

// wantNotices checks that every running gateway's Local received exactly want, in order.
func (w *world) wantNotices(want ...string) {
	w.t.Helper()
	for _, g := range w.gws {
		if g.running {
			g.wantNotices(want...)
		}
	}
}

// wantNotices checks that the gateway's Local received exactly want, in order.
func (g *gateway) wantNotices(want ...string) {
	g.w.t.Helper()
	if got := g.notices(); !slices.Equal(got, want) {
		g.w.t.Errorf("notices on %s:\n got %q\nwant %q", g.cfg.GatewayID, got, want)
	}
}

// waitFor polls cond until it holds, failing the test if ctx ends first.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	if err := poll.Within(ctx, 20*time.Second, 5*time.Millisecond, cond); err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func (l *fakeLocal) CloseSessions(user, session string, code int, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closes = append(l.closes, fmt.Sprintf("%s %s %d %s", user, session, code, reason))
}

func (l *fakeLocal) closed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.closes)
}

// sessionList copies every cached session record.
func (s *State) sessionList() []sessionRecord {
	return s.sessionsWhere(func(*sessionRecord) bool { return true })
}
