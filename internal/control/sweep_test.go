package control

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The rules of PROTOCOL.md that the sweeper keeps: the grace period of a dropped session,
// the rooms a reconnected session did not join again, and the sessions of gateways that
// restarted or died. Every sweep is made by hand after moving the clock.

// A dropped session (left=false) counts as present for the grace period: sweeping before it
// ends changes nothing, and a session that comes back with a new connection and joins its
// room again emits nothing at all, not even once the grace would have ended.
func TestGraceReconnectAndRejoinEmitsNothing(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	a.connect("alice", "s1", "c1")
	a.join("alice", "s1", "c1", "lobby")

	a.disconnect("alice", "s1", "c1", false)
	w.clock.Add(testGrace - time.Millisecond)
	b.sees("alice", "s1", func(rec *sessionRecord) bool { return rec != nil && rec.GraceUntil != 0 })
	a.sweep()
	b.sweep()
	w.wantEvents("lobby", "join alice s1")

	b.connect("alice", "s1", "c2") // back, through another gateway
	if id := b.join("alice", "s1", "c2", "lobby"); id != 0 {
		t.Errorf("joining again stored event %d", id)
	}
	a.sees("alice", "s1", func(rec *sessionRecord) bool { return rec != nil && rec.Conn == "c2" })
	w.clock.Add(2 * testGrace) // past the grace and the stale period
	a.sweep()
	b.sweep()

	w.wantEvents("lobby", "join alice s1")
	w.wantNotices("online alice")
	if m := a.members("lobby", "alice"); !slices.Equal(m, []string{"s1"}) {
		t.Errorf("alice's sessions in lobby: %q", m)
	}
}

// A dropped session that does not come back is taken out when a sweep runs after its grace
// period, not before: remove while the user has another session in the room, then, for the
// last, leave and offline, once.
func TestGraceNotComingBackExpiresAfterGrace(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a := w.start("gw-a")
	a.connect("alice", "s1", "c1")
	a.connect("alice", "s2", "c2")
	a.join("alice", "s1", "c1", "lobby")
	a.join("alice", "s2", "c2", "lobby")

	a.disconnect("alice", "s1", "c1", false)
	a.disconnect("alice", "s1", "c1", false) // told twice: the grace does not restart
	w.clock.Add(testGrace - time.Millisecond)
	a.sweep()
	w.wantEvents("lobby", "join alice s1", "add alice s2")
	w.clock.Add(time.Millisecond)
	a.sweep()
	w.wantEvents("lobby", "join alice s1", "add alice s2", "remove alice s1")
	w.wantNotices("online alice") // s2 is still connected

	a.disconnect("alice", "s2", "c2", false)
	w.clock.Add(testGrace - time.Millisecond)
	a.sweep()
	w.wantEvents("lobby", "join alice s1", "add alice s2", "remove alice s1")
	w.wantNotices("online alice")
	w.clock.Add(time.Millisecond)
	a.sweep()
	a.sweep()
	w.wantEvents("lobby", "join alice s1", "add alice s2", "remove alice s1", "leave alice s2")
	w.wantNotices("online alice", "offline alice")
	if rec := a.record("alice", "s2"); rec != nil {
		t.Errorf("an expired session is still recorded: %+v", *rec)
	}
}

// Two gateways sweeping the same expired sessions at once store each session's events once,
// and say each user offline once.
func TestTwoPlanesSweepingExpireOnce(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	users := []string{"alice", "bob", "carol", "dave", "erin"}
	for _, u := range users {
		a.connect(u, "s1", u+"-c1")
		a.join(u, "s1", u+"-c1", "lobby")
		a.disconnect(u, "s1", u+"-c1", false)
		b.sees(u, "s1", func(rec *sessionRecord) bool { return rec != nil && rec.GraceUntil != 0 })
	}

	w.clock.Add(testGrace)
	var wg sync.WaitGroup
	for _, g := range []*gateway{a, b, a, b} {
		wg.Go(g.sweep)
	}
	wg.Wait()
	a.sweep()
	b.sweep()

	var want, online, offline []string
	for _, u := range users {
		want = append(want, "join "+u+" s1")
	}
	for _, u := range users {
		want = append(want, "leave "+u+" s1")
		online, offline = append(online, "online "+u), append(offline, "offline "+u)
	}
	got := w.events("lobby")
	if len(got) == len(want) {
		slices.Sort(got[len(users):]) // the sweeps expire the sessions in any order
	}
	if !slices.Equal(got, want) {
		t.Errorf("stored events of lobby:\n got %q\nwant %q", got, want)
	}
	for _, g := range []*gateway{a, b} {
		n := g.notices()
		if len(n) == 2*len(users) {
			slices.Sort(n[len(users):])
		}
		if !slices.Equal(n, append(online, offline...)) {
			t.Errorf("notices on %s:\n got %q\nwant %q", g.cfg.GatewayID, n, append(online, offline...))
		}
	}
}

// A reconnected session that does not join one of its old rooms again is taken out of it
// (remove, or leave for the user's last session there) once its stale period, a grace
// period from the reconnect, ends; it stays in the rooms it did join again.
func TestReconnectLeavesRoomsNotRejoinedAfterStalePeriod(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a := w.start("gw-a")
	a.connect("alice", "s1", "c1")
	a.connect("alice", "s2", "c2")
	for _, room := range []string{"lobby", "games", "quiz"} {
		a.join("alice", "s1", "c1", room)
	}
	a.join("alice", "s2", "c2", "games")

	a.disconnect("alice", "s1", "c1", false)
	w.clock.Add(time.Minute)
	a.connect("alice", "s1", "c3")
	if id := a.join("alice", "s1", "c3", "lobby"); id != 0 {
		t.Errorf("joining lobby again stored event %d", id)
	}
	w.clock.Add(testGrace - time.Millisecond)
	a.sweep()
	w.wantEvents("games", "join alice s1", "add alice s2")
	w.wantEvents("quiz", "join alice s1")

	w.clock.Add(time.Millisecond)
	a.sweep()
	a.sweep()
	w.wantEvents("lobby", "join alice s1")
	w.wantEvents("games", "join alice s1", "add alice s2", "remove alice s1")
	w.wantEvents("quiz", "join alice s1", "leave alice s1")
	w.wantNotices("online alice")
	rec := a.record("alice", "s1")
	if rec == nil || !slices.Equal(rec.Rooms, []string{"lobby"}) || len(rec.Stale) != 0 || rec.Conn != "c3" {
		t.Errorf("the session after its stale period: %+v", rec)
	}
	for room, want := range map[string][]string{"lobby": {"s1"}, "games": {"s2"}, "quiz": nil} {
		if m := a.members(room, "alice"); !slices.Equal(m, want) {
			t.Errorf("alice's sessions in %s: %q, want %q", room, m, want)
		}
	}
}

// A gateway that died between ending a session's record and taking the session out of its
// rooms (Disconnect's two steps) left it counted there, with nobody to end it: the sweepers
// take such a member out, storing its leave once, but only once it has stayed so for
// unbackedFor (a leave in progress looks the same for a moment).
func TestMembersWithoutTheirSessionRecordAreTakenOut(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	a.connect("alice", "s1", "c1")
	a.join("alice", "s1", "c1", "lobby")
	a.connect("bob", "s1", "c2")
	a.join("bob", "s1", "c2", "lobby")
	// Alice's Disconnect ended her record, then her gateway died.
	if err := a.bucket.kv.Delete(w.ctx, sessionKey("alice", "s1")); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*gateway{a, b} {
		waitFor(t, w.ctx, g.cfg.GatewayID+" to see the record gone", func() bool {
			return len(g.State().unbacked()) == 1
		})
	}
	swA, swB := newSweeper(a.Plane), newSweeper(b.Plane)
	swA.sweep(w.ctx)
	swB.sweep(w.ctx)
	w.clock.Add(unbackedFor - time.Second)
	swA.sweep(w.ctx)
	swB.sweep(w.ctx)
	w.wantEvents("lobby", "join alice s1", "join bob s1") // not yet: it may be a leave in progress

	w.clock.Add(2 * time.Second)
	swA.sweep(w.ctx)
	swB.sweep(w.ctx)
	w.wantEvents("lobby", "join alice s1", "join bob s1", "leave alice s1")
	if got := a.members("lobby", "alice"); len(got) != 0 {
		t.Fatalf("alice still counted in lobby: %v", got)
	}
	if got := a.members("lobby", "bob"); !slices.Equal(got, []string{"s1"}) {
		t.Fatalf("bob's sessions in lobby: %v", got)
	}
}

// A gateway that decided a presence change (the member key says so, with a pending mark)
// and died before its event was known to be stored: the event is stored once, before any
// later change of the key, by that change or, if none comes, by the sweepers.
func TestOwedPresenceEventIsStoredOnce(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	a.connect("alice", "s1", "c1")
	a.join("alice", "s1", "c1", "lobby")
	a.connect("bob", "s1", "c2")
	a.join("bob", "s1", "c2", "games")

	// Alice's leave of lobby and bob's of games were decided, then their gateway died.
	owe := func(room, user string) {
		t.Helper()
		mark := w.clock.Now().UnixNano()
		rec := &setRecord{Pending: mark, Owed: &owedEvent{Type: "leave", Session: "s1", Decision: "d-" + user, UnixTime: w.clock.Now().Unix()}}
		data, _ := json.Marshal(rec)
		if _, err := a.bucket.kv.Put(w.ctx, memberKey(room, user), data); err != nil {
			t.Fatal(err)
		}
	}
	owe("lobby", "alice")
	owe("games", "bob")

	// Too soon: the deciding gateway may only be slow.
	w.clock.Add(pendingFor / 2)
	b.sweep()
	w.wantEvents("lobby", "join alice s1")

	// A later change of lobby stores the owed leave first, then its own join.
	w.clock.Add(pendingFor)
	b.connect("alice", "s2", "c3")
	b.join("alice", "s2", "c3", "lobby")
	w.wantEvents("lobby", "join alice s1", "leave alice s1", "join alice s2")

	// Nobody changes games: the sweepers store its owed leave, once.
	waitFor(t, w.ctx, "gw-b to see the owing key", func() bool { return len(b.State().owingSince(w.clock.Now())) > 0 })
	w.clock.Add(2 * pendingFor)
	a.sweep()
	b.sweep()
	w.wantEvents("games", "join bob s1", "leave bob s1")
	if rec, _, err := get[setRecord](w.ctx, a.bucket.kv, memberKey("games", "bob")); err != nil || rec != nil {
		t.Fatalf("games' member key after the owed leave: %+v, %v; want it gone", rec, err)
	}
}

// A join that failed after JoinRoom is undone without an exit for a session that counted in
// the room from an earlier connection (a reconnect whose rejoin hit a stream outage): the
// room is stale again, and the session leaves it only if no join succeeds in its stale
// period. A join that stored the session's event is undone by storing its exit.
func TestUndoJoinKeepsAResumedSessionCounted(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a := w.start("gw-a")
	a.connect("alice", "s1", "c1")
	a.join("alice", "s1", "c1", "lobby")
	a.disconnect("alice", "s1", "c1", false)
	a.connect("alice", "s1", "c2")

	own := a.join("alice", "s1", "c2", "lobby")
	if err := a.UndoJoin(w.ctx, "alice", "s1", "c2", "lobby", own); err != nil {
		t.Fatal(err)
	}
	w.wantEvents("lobby", "join alice s1")
	if rec := a.record("alice", "s1"); rec == nil || !slices.Equal(rec.Stale, []string{"lobby"}) {
		t.Fatalf("after the undone resume, the session record is %+v; want lobby stale again", rec)
	}

	// The retry succeeds: still nothing stored, and the sweep after the stale period leaves
	// it in the room.
	if id := a.join("alice", "s1", "c2", "lobby"); id != 0 {
		t.Errorf("the retried resume stored event %d", id)
	}
	w.clock.Add(testGrace)
	a.sweep()
	w.wantEvents("lobby", "join alice s1")

	// A first join undone: its exit is stored.
	own = a.join("alice", "s1", "c2", "games")
	if err := a.UndoJoin(w.ctx, "alice", "s1", "c2", "games", own); err != nil {
		t.Fatal(err)
	}
	w.wantEvents("games", "join alice s1", "leave alice s1")

	// A resume undone late in its stale period gets a grace period from that try; never
	// retried, it is out when that ends.
	a.disconnect("alice", "s1", "c2", false)
	a.connect("alice", "s1", "c3")
	w.clock.Add(testGrace / 2)
	own = a.join("alice", "s1", "c3", "lobby")
	if err := a.UndoJoin(w.ctx, "alice", "s1", "c3", "lobby", own); err != nil {
		t.Fatal(err)
	}
	w.clock.Add(testGrace / 2)
	a.sweep()
	w.wantEvents("lobby", "join alice s1")
	w.clock.Add(testGrace/2 - time.Millisecond)
	a.sweep()
	w.wantEvents("lobby", "join alice s1")
	w.clock.Add(time.Millisecond)
	a.sweep()
	w.wantEvents("lobby", "join alice s1", "leave alice s1")
}

// The sweeper looks at every session of the cluster each second. Selecting what is due, and
// finding the members no session record backs, must not copy or build anything per session:
// an idle gateway with 10,000 sessions once allocated 2 MB a second copying every record and
// making a key per member.
func TestSweepSelectionAllocatesNothingPerSession(t *testing.T) {
	s := newState()
	pad := strings.Repeat("x", 40) // ids past what a concatenation keeps on the stack
	for i := range 1000 {
		user, session := "user"+strconv.Itoa(i)+pad, "session"+strconv.Itoa(i)+pad
		rec, err := json.Marshal(sessionRecord{UserID: user, SessionID: session, GatewayID: "gw-a", Run: "r1", Conn: "c", Rooms: []string{"lobby"}})
		if err != nil {
			t.Fatal(err)
		}
		s.applyPresence(sessionKey(user, session), rec)
		set, err := json.Marshal(setRecord{Sessions: []string{session}})
		if err != nil {
			t.Fatal(err)
		}
		s.applyPresence(memberKey("lobby", user), set)
	}
	sw := newSweeper(&Plane{})
	live := liveRuns{"gw-a": "r1"}
	now := time.Now()
	var due []sessionRecord
	var unbacked []memberEntry
	res := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			due = s.sessionsWhere(func(rec *sessionRecord) bool { return sw.due(rec, live, now) })
			unbacked = s.unbacked()
		}
	})
	if len(due) != 0 || len(unbacked) != 0 {
		t.Fatalf("due %d sessions and %d unbacked members, want none", len(due), len(unbacked))
	}
	// A copy of the records is over 100 KB a pass, a key per member about 100 KB more.
	if per := res.AllocedBytesPerOp(); per > 4<<10 {
		t.Errorf("a pass over 1,000 live sessions allocated %d bytes, want next to nothing", per)
	}

	// What is due is still found: a session in a grace period that ended.
	user, session := "user7"+pad, "session7"+pad
	rec, err := json.Marshal(sessionRecord{UserID: user, SessionID: session, GatewayID: "gw-a", Run: "r1", Conn: "c", Rooms: []string{"lobby"}, GraceUntil: now.Add(-time.Second).UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	s.applyPresence(sessionKey(user, session), rec)
	due = s.sessionsWhere(func(rec *sessionRecord) bool { return sw.due(rec, live, now) })
	if len(due) != 1 || due[0].UserID != user {
		t.Errorf("due after user7's grace ended: %+v", due)
	}
}
