package control

import (
	"slices"
	"testing"
	"time"
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
