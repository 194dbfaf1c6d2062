package control

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/subject"
	"github.com/google/uuid"
)

// The rules of PROTOCOL.md's "Events" section that need no sweep: online/offline, the
// events of joining and leaving a room, a session that leaves, and take-overs.

const (
	testGrace     = 10 * time.Minute
	testHeartbeat = time.Minute // never expires or beats again during a test
)

// A user's first session makes the user online, over all gateways; another session makes
// no notice; the last session leaving makes the user offline, once.
func TestFirstSessionOnlineLastSessionOffline(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")

	a.connect("alice", "s1", "c1")
	w.wantNotices("online alice")
	b.connect("alice", "s2", "c2") // another session, on another gateway
	a.connect("alice", "s1", "c1") // the same connection recorded again
	w.wantNotices("online alice")

	a.disconnect("alice", "s1", "c1", true)
	w.wantNotices("online alice")
	b.disconnect("alice", "s2", "c2", true)
	w.wantNotices("online alice", "offline alice")
	b.disconnect("alice", "s2", "c2", true) // told twice
	a.disconnect("alice", "s1", "c1", true)
	w.wantNotices("online alice", "offline alice")
}

// JoinRoom stores join for a user's first session in a room, counted over all gateways, and
// returns its id; add for another session of the user; nothing (0) for a session already
// counted.
func TestJoinRoomJoinFirstAddAnotherNothingAgain(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	a.connect("alice", "s1", "c1")
	b.connect("alice", "s2", "c2")
	a.connect("bob", "s1", "c3") // the same session id, another user

	joined := a.join("alice", "s1", "c1", "lobby")
	added := b.join("alice", "s2", "c2", "lobby")
	bobJoined := a.join("bob", "s1", "c3", "lobby")
	if again := a.join("alice", "s1", "c1", "lobby"); again != 0 {
		t.Errorf("the same session joining again stored event %d", again)
	}
	if again := b.join("alice", "s2", "c2", "lobby"); again != 0 {
		t.Errorf("the second session joining again stored event %d", again)
	}

	want := []storedEvent{{joined, "join alice s1"}, {added, "add alice s2"}, {bobJoined, "join bob s1"}}
	if got := w.stored("lobby"); !slices.Equal(got, want) {
		t.Errorf("stored (id, event) of lobby:\n got %v\nwant %v", got, want)
	}
	if m := a.members("lobby", "alice"); !slices.Equal(m, []string{"s1", "s2"}) {
		t.Errorf("alice's sessions in lobby: %q", m)
	}
}

// LeaveRoom stores remove while another session of the user is in the room, and leave for
// the last one; leaving again stores nothing.
func TestLeaveRoomRemoveThenLeave(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	a.connect("alice", "s1", "c1")
	b.connect("alice", "s2", "c2")
	a.join("alice", "s1", "c1", "lobby")
	b.join("alice", "s2", "c2", "lobby")

	a.leave("alice", "s1", "c1", "lobby")
	w.wantEvents("lobby", "join alice s1", "add alice s2", "remove alice s1")
	b.leave("alice", "s2", "c2", "lobby")
	w.wantEvents("lobby", "join alice s1", "add alice s2", "remove alice s1", "leave alice s2")
	b.leave("alice", "s2", "c2", "lobby")
	a.leave("alice", "s1", "c1", "lobby")
	w.wantEvents("lobby", "join alice s1", "add alice s2", "remove alice s1", "leave alice s2")
	if m := a.members("lobby", "alice"); m != nil {
		t.Errorf("alice still counted in lobby: %q", m)
	}
	w.wantNotices("online alice") // still connected
}

// A session that left (close 1000) is taken out of its rooms at once: remove while the user
// has another session there, leave (and offline) for the last.
func TestDisconnectLeftRemovesAtOnce(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	a.connect("alice", "s1", "c1")
	b.connect("alice", "s2", "c2")
	a.join("alice", "s1", "c1", "lobby")
	b.join("alice", "s2", "c2", "lobby")

	a.disconnect("alice", "s1", "c1", true)
	w.wantEvents("lobby", "join alice s1", "add alice s2", "remove alice s1")
	w.wantNotices("online alice")
	b.disconnect("alice", "s2", "c2", true)
	w.wantEvents("lobby", "join alice s1", "add alice s2", "remove alice s1", "leave alice s2")
	w.wantNotices("online alice", "offline alice")
	if rec := a.record("alice", "s1"); rec != nil {
		t.Errorf("a session that left is still recorded: %+v", *rec)
	}
}

// A connection that opens with a session already connected takes it over: Connect names the
// old connection, and Kick closes it through the Local of the gateway that holds it (its own
// directly, another through NATS). No presence event, no notice; the old connection can
// no longer act for the session. A session in its grace period is not taken over.
func TestTakeoverKicksOldConnectionOnItsGateway(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	kicks, err := a.nc.SubscribeSync(subject.Gateway("*"))
	if err != nil {
		t.Fatal(err)
	}
	a.connect("alice", "s1", "c1")
	a.join("alice", "s1", "c1", "lobby")

	// On the same gateway: the old connection is kicked directly, nothing goes through NATS.
	took, err := a.Connect(w.ctx, "alice", "s1", "c2")
	if err != nil {
		t.Fatal(err)
	}
	if took == nil || *took != (Takeover{GatewayID: "gw-a", Conn: "c1"}) {
		t.Fatalf("take-over on the same gateway: %+v", took)
	}
	a.Kick(w.ctx, "alice", "s1", took)
	if k := a.local.kicked(); !slices.Equal(k, []string{"alice s1 c1"}) {
		t.Errorf("kicked on gw-a: %q", k)
	}
	if err := a.nc.Publish(subject.Gateway("marker"), nil); err != nil {
		t.Fatal(err)
	}
	if m, err := kicks.NextMsg(10 * time.Second); err != nil || m.Subject != subject.Gateway("marker") {
		t.Errorf("a take-over on the same gateway sent a notice: %v %v", m, err)
	}
	if id := a.join("alice", "s1", "c2", "lobby"); id != 0 {
		t.Errorf("the new connection's join stored event %d", id)
	}

	// From another gateway: the notice reaches gw-a's Local.
	took, err = b.Connect(w.ctx, "alice", "s1", "c3")
	if err != nil {
		t.Fatal(err)
	}
	if took == nil || *took != (Takeover{GatewayID: "gw-a", Conn: "c2"}) {
		t.Fatalf("take-over from another gateway: %+v", took)
	}
	b.Kick(w.ctx, "alice", "s1", took)
	waitFor(t, w.ctx, "gw-a to kick c2", func() bool { return len(a.local.kicked()) == 2 })
	if k := a.local.kicked(); !slices.Equal(k, []string{"alice s1 c1", "alice s1 c2"}) {
		t.Errorf("kicked on gw-a: %q", k)
	}
	if id := b.join("alice", "s1", "c3", "lobby"); id != 0 {
		t.Errorf("the new connection's join stored event %d", id)
	}

	// The replaced connections end, and change nothing.
	if _, _, err := a.JoinRoom(w.ctx, "alice", "s1", "c2", "games"); !errors.Is(err, ErrReplaced) {
		t.Errorf("a join through a replaced connection: %v, want ErrReplaced", err)
	}
	a.leave("alice", "s1", "c2", "lobby")
	a.disconnect("alice", "s1", "c1", true)
	a.disconnect("alice", "s1", "c2", false)
	if rec := b.record("alice", "s1"); rec == nil || rec.GatewayID != "gw-b" || rec.Conn != "c3" || rec.GraceUntil != 0 ||
		!slices.Equal(rec.Rooms, []string{"lobby"}) {
		t.Errorf("the session after its old connections ended: %+v", rec)
	}

	// A session in its grace period is continued, not taken over.
	b.disconnect("alice", "s1", "c3", false)
	b.connect("alice", "s1", "c4")

	if k := b.local.kicked(); len(k) != 0 {
		t.Errorf("kicked on gw-b: %q", k)
	}
	w.wantEvents("lobby", "join alice s1")
	w.wantNotices("online alice")
}

// A connection whose presence write comes after that of a connection of the same session
// opened later (the client gave up on the first, whose write was slow, and opened another)
// does not take the later one over: Connect refuses it. Connection ids are UUIDv7, ordered
// by the time they were made.
func TestSlowOlderConnectionDoesNotTakeOverANewerOne(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a, b := w.start("gw-a"), w.start("gw-b")
	at := time.Now().UnixMilli()
	older, newer, newest := connAt(at), connAt(at+1500), connAt(at+3000)

	b.connect("alice", "s1", newer)
	if _, err := a.Connect(w.ctx, "alice", "s1", older); !errors.Is(err, ErrReplaced) {
		t.Fatalf("the older connection's Connect: %v, want ErrReplaced", err)
	}
	if rec := a.record("alice", "s1"); rec == nil || rec.Conn != newer {
		t.Fatalf("the session's record after the older connection came: %+v, want held by %s", rec, newer)
	}
	if k := b.local.kicked(); len(k) != 0 {
		t.Errorf("the newer connection was kicked: %q", k)
	}

	// The other way round is a take-over as always.
	took, err := a.Connect(w.ctx, "alice", "s1", newest)
	if err != nil || took == nil || took.Conn != newer {
		t.Fatalf("a newer connection's Connect: took %+v, %v; want %s taken over", took, err, newer)
	}
}

// connAt is a connection id made at unix millisecond ms: a UUIDv7, as a gateway makes them.
func connAt(ms int64) string {
	id := uuid.Must(uuid.NewV7())
	for i := range 6 {
		id[i] = byte(ms >> (8 * (5 - i)))
	}
	return id.String()
}

// JoinRoom tells a session already counted in a room the id of its own join/add, so the
// gateway can end a reply there; a session that left and came back has its new one.
func TestJoinRoomTellsTheEnterOfASessionCountedAlready(t *testing.T) {
	w := newWorld(t, testGrace, testHeartbeat)
	a := w.start("gw-a")
	a.connect("alice", "s1", "c1")
	a.connect("alice", "s2", "c2")
	joined := a.join("alice", "s1", "c1", "lobby")
	added := a.join("alice", "s2", "c2", "lobby")
	for _, tc := range []struct {
		session, conn string
		want          uint64
	}{{"s1", "c1", joined}, {"s2", "c2", added}} {
		stored, enter, err := a.JoinRoom(w.ctx, "alice", tc.session, tc.conn, "lobby")
		if err != nil || stored != 0 || enter != tc.want {
			t.Errorf("%s joining again: stored %d, enter %d, %v; want 0, %d", tc.session, stored, enter, err, tc.want)
		}
	}
	a.leave("alice", "s1", "c1", "lobby")
	again := a.join("alice", "s1", "c1", "lobby")
	if _, enter, _ := a.JoinRoom(w.ctx, "alice", "s1", "c1", "lobby"); enter != again || again == joined {
		t.Errorf("after leaving and joining again: enter %d, want the new add %d", enter, again)
	}
	if _, enter, _ := a.JoinRoom(w.ctx, "alice", "s2", "c2", "lobby"); enter != added {
		t.Errorf("s2's enter after s1 left and came back: %d, want %d", enter, added)
	}
}
