package control

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Sessions of gateways that restart or die: PROTOCOL.md's "a dead gateway" starts the grace
// period, and sessions that come back in time lose nothing.

// A gateway restarted under the same id is a new run: at Run, the sessions of its previous
// run get their grace period (they are orphans). A session that comes back to it and joins
// its room again keeps the room with no event, and another gateway's sweeper does not expire
// it — also when that sweeper listed the live runs before the new run's first heartbeat and
// then found the session recorded by the new run. The sessions that do not come back expire
// once, after the grace.
func TestRestartedGatewayKeepsReturningSessions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		listed bool                         // the sweeper's list names the old run
		kill   func(w *world, old *gateway) // what else happened to the old run
	}{
		{"list names the old run", true, func(*world, *gateway) {}},
		{"list lacks the gateway", false, func(w *world, old *gateway) {
			if err := old.gateways.Delete(w.ctx, "gw-a"); err != nil {
				w.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A grace of three heartbeats: a sweeper expires a run missing from its list at
			// first sight, so only a fresh read of the heartbeat saves the new run's sessions
			// from a list taken before that run's first heartbeat.
			const grace = 3 * testHeartbeat
			w := newWorld(t, grace, testHeartbeat)
			a1, b := w.start("gw-a"), w.start("gw-b")
			a1.connect("alice", "s1", "a1-c1")
			a1.join("alice", "s1", "a1-c1", "lobby")
			a1.connect("bob", "s2", "a1-c2")
			a1.join("bob", "s2", "a1-c2", "lobby")
			a1.halt() // the process dies; its records stay
			tc.kill(w, a1)

			// gw-b starts a sweep: it lists the live runs before gw-a's new run beats.
			sw := newSweeper(b.Plane)
			live, err := b.liveRuns(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if run, ok := live["gw-a"]; ok != tc.listed || ok && run != a1.run {
				t.Fatalf("gw-a in the sweeper's list: %q, %v", run, ok)
			}

			a2 := w.open("gw-a") // the restart: its first heartbeat
			if rec := a2.record("alice", "s1"); rec == nil || rec.GraceUntil != 0 || rec.Run != a1.run {
				t.Fatalf("alice's session before the restart's Run: %+v", rec)
			}
			a2.launch()
			graced := w.clock.Now().Add(grace).UnixMilli()
			for _, s := range [][2]string{{"alice", "s1"}, {"bob", "s2"}} {
				if rec := a2.record(s[0], s[1]); rec == nil || rec.GraceUntil != graced {
					t.Errorf("%s's session of the previous run after the restart's Run: %+v, want grace until %d", s[0], rec, graced)
				}
			}

			w.clock.Add(testHeartbeat)
			a2.connect("alice", "s1", "a2-c1")
			if id := a2.join("alice", "s1", "a2-c1", "lobby"); id != 0 {
				t.Errorf("joining again after the restart stored event %d", id)
			}
			b.sees("alice", "s1", func(rec *sessionRecord) bool { return rec != nil && rec.Run == a2.run })
			b.sees("bob", "s2", func(rec *sessionRecord) bool { return rec != nil && rec.GraceUntil == graced })

			// The sweep goes on with its old list and finds alice held by the new run.
			sw.pass(w.ctx, w.clock.Now(), live, b.state.sessionList())
			sw.sweep(w.ctx)
			b.sweep()
			if id, _, err := a2.JoinRoom(w.ctx, "alice", "s1", "a2-c1", "lobby"); id != 0 || err != nil {
				t.Errorf("joining again after the sweeps: event %d, %v", id, err)
			}
			w.wantEvents("lobby", "join alice s1", "join bob s2")

			// Bob does not come back: expired once the grace from the restart is over.
			w.clock.Add(grace - testHeartbeat - time.Millisecond)
			sw.sweep(w.ctx)
			a2.sweep()
			w.wantEvents("lobby", "join alice s1", "join bob s2")
			w.clock.Add(time.Millisecond)
			sw.sweep(w.ctx)
			a2.sweep()
			w.clock.Add(2 * grace)
			sw.sweep(w.ctx)
			a2.sweep()
			b.sweep()
			w.wantEvents("lobby", "join alice s1", "join bob s2", "leave bob s2")
			b.wantNotices("online alice", "online bob", "offline bob")
			a2.wantNotices("offline bob")
			if rec := a2.record("alice", "s1"); rec == nil || rec.Conn != "a2-c1" || !slices.Equal(rec.Rooms, []string{"lobby"}) {
				t.Errorf("alice's session at the end: %+v", rec)
			}
		})
	}
}

// A gateway that dies (its heartbeat deleted, or never put again until it expires) leaves
// its sessions to the others' sweepers: they count as present for Grace − 3×Heartbeat from
// when a sweeper first misses the gateway (its heartbeat took three beats to expire). The
// sessions that reconnect to another gateway in that time, or while the sweep that expires
// the others runs, keep their rooms with no event; the others are expired once.
func TestDeadGatewaySessionsExpireOnceUnlessReconnected(t *testing.T) {
	for _, tc := range []struct {
		name      string
		heartbeat time.Duration
		kill      func(w *world, a *gateway)
	}{
		{"heartbeat deleted", testHeartbeat, func(w *world, a *gateway) {
			a.halt()
			if err := a.gateways.Delete(w.ctx, "gw-a"); err != nil {
				w.t.Fatal(err)
			}
		}},
		{"heartbeat expired", 100 * time.Millisecond, func(w *world, a *gateway) {
			a.halt()
			waitFor(w.t, w.ctx, "gw-a's heartbeat to expire", func() bool {
				_, err := a.gateways.Get(w.ctx, "gw-a")
				return errors.Is(err, jetstream.ErrKeyNotFound)
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, testGrace, tc.heartbeat)
			a, b := w.start("gw-a"), w.start("gw-b")
			for _, u := range []string{"alice", "bob", "carol"} {
				a.connect(u, "s1", "a-"+u)
				a.join(u, "s1", "a-"+u, "lobby")
				b.sees(u, "s1", func(rec *sessionRecord) bool { return rec != nil && rec.GatewayID == "gw-a" })
			}
			tc.kill(w, a)
			// Each comes back through gw-b: its record on the dead gateway is a connection to
			// take over, as for any connection held elsewhere.

			sw := newSweeper(b.Plane)
			sw.sweep(w.ctx) // the first miss
			wait := testGrace - 3*tc.heartbeat
			w.clock.Add(time.Minute)
			b.takeOver("carol", "s1", "b-carol", "a-carol") // back in time
			if id := b.join("carol", "s1", "b-carol", "lobby"); id != 0 {
				t.Errorf("carol joining again stored event %d", id)
			}
			w.clock.Add(wait - time.Minute - time.Millisecond)
			sw.sweep(w.ctx)
			w.wantEvents("lobby", "join alice s1", "join bob s1", "join carol s1")

			// The sweep at the end of the wait sees alice and bob on the dead gateway; alice
			// comes back to gw-b while it runs.
			w.clock.Add(time.Millisecond)
			live, err := b.liveRuns(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			seen := b.state.sessionList()
			b.takeOver("alice", "s1", "b-alice", "a-alice")
			if id := b.join("alice", "s1", "b-alice", "lobby"); id != 0 {
				t.Errorf("alice joining again stored event %d", id)
			}
			sw.pass(w.ctx, w.clock.Now(), live, seen)
			sw.pass(w.ctx, w.clock.Now(), live, seen)
			w.wantEvents("lobby", "join alice s1", "join bob s1", "join carol s1", "leave bob s1")

			w.clock.Add(2 * testGrace)
			sw.sweep(w.ctx)
			b.sweep()
			w.wantEvents("lobby", "join alice s1", "join bob s1", "join carol s1", "leave bob s1")
			b.wantNotices("online alice", "online bob", "online carol", "offline bob")
			for _, u := range []string{"alice", "carol"} {
				if m := b.members("lobby", u); !slices.Equal(m, []string{"s1"}) {
					t.Errorf("%s's sessions in lobby: %q", u, m)
				}
			}
		})
	}
}

// A gateway that lives but was out of reach for longer than its heartbeat lasts is taken
// for dead, and its sessions expire (leave stored) while their connections are still open
// on it. Those connections must not go on outside the rooms the cluster counts them in:
// the sweeper that expires a session asks its gateway to close the connection with 1001,
// so the client reconnects and joins again with since.
func TestExpiredSessionOfALiveGatewayIsClosed(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	a.connect("alice", "s1", "a-alice")
	a.join("alice", "s1", "a-alice", "lobby")
	b.sees("alice", "s1", func(rec *sessionRecord) bool { return rec != nil && rec.GatewayID == "gw-a" })
	if err := a.gateways.Delete(w.ctx, "gw-a"); err != nil { // its heartbeat lapsed
		t.Fatal(err)
	}

	sw := newSweeper(b.Plane)
	sw.sweep(w.ctx) // the first miss
	w.clock.Add(testGrace - 3*testHeartbeat)
	sw.sweep(w.ctx)
	w.wantEvents("lobby", "join alice s1", "leave alice s1")
	waitFor(t, w.ctx, "gw-a to close alice's connection with 1001", func() bool {
		return slices.Equal(a.local.kicked(), []string{"alice s1 a-alice 1001"})
	})
	if k := b.local.kicked(); len(k) != 0 {
		t.Errorf("gw-b closed %q; the connection is gw-a's", k)
	}
}
