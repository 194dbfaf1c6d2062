package chatclient

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// feed gives the checker what a gateway would send, written short: "welcome", "joined
// lobby j1 recovered 3:message 4:join:alice:s1" ("-" for no ref), "5:message lobby",
// "left lobby l1".
func feed(k *Checker, lines ...string) {
	for _, l := range lines {
		f := strings.Fields(l)
		var m Msg
		switch f[0] {
		case "welcome":
			m = Msg{Type: "welcome", UserID: "alice", SessionID: "s1"}
		case "joined":
			m = Msg{Type: "joined", ChatroomID: f[1], Ref: strings.Trim(f[2], "-"), Recovered: f[3] == "recovered"}
			for _, e := range f[4:] {
				m.Events = append(m.Events, event(e, f[1]))
			}
		case "left":
			m = Msg{Type: "left", ChatroomID: f[1], Ref: f[2]}
		default:
			m = event(f[0], f[1])
		}
		m.Raw, _ = json.Marshal(m)
		k.Received(m)
	}
}

// event reads "id:type[:user:session]".
func event(s, room string) Msg {
	p := strings.Split(s, ":")
	var id uint64
	fmt.Sscan(p[0], &id)
	m := Msg{ID: id, Type: p[1], ChatroomID: room, UserID: "bob"}
	if len(p) == 4 {
		m.UserID, m.SessionID = p[2], p[3]
	}
	return m
}

func sent(k *Checker, room, ref string, since int) {
	cmd := map[string]any{"type": "join", "chatroomId": room, "ref": ref}
	if since >= 0 {
		cmd["since"] = since
	}
	b, _ := json.Marshal(cmd)
	k.Sent(b)
}

func newTestChecker() *Checker {
	return NewChecker(CheckerConfig{User: "alice", Session: "s1", Fresh: true, Keep: true})
}

func wantProblems(t *testing.T, k *Checker, want ...string) {
	t.Helper()
	got := k.Problems()
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %d matching %q", got, len(want), want)
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %q does not say %q", got[i], w)
		}
	}
}

func TestCheckerAcceptsAFirstJoinThenLiveThenARecoveredRejoin(t *testing.T) {
	k := newTestChecker()
	sent(k, "lobby", "j1", -1)
	feed(k, "welcome", "joined lobby j1 recovered 3:message 4:join:alice:s1", "6:message lobby", "7:add:bob:b2 lobby")
	k.Dropped(false)
	since, ok := k.Rejoin("lobby")
	if !ok || since != 7 {
		t.Fatalf("rejoin since %d %v", since, ok)
	}
	sent(k, "lobby", "j2", 7)
	feed(k, "joined lobby j2 recovered 9:message 10:message", "12:message lobby")
	wantProblems(t, k)
	if p := k.Verify("lobby", []uint64{1, 3, 4, 6, 7, 9, 10, 12}); len(p) > 0 {
		t.Fatal(p)
	}
	if p := k.Verify("lobby", []uint64{3, 4, 5, 6, 7, 9, 10, 12}); len(p) != 1 || !strings.Contains(p[0], "want 5") {
		t.Fatalf("a gap: %q", p)
	}
	if p := k.Verify("lobby", []uint64{3, 4, 6, 7, 8, 9, 10, 12}); len(p) != 1 || !strings.Contains(p[0], "want 8") {
		t.Fatalf("a gap at the rejoin: %q", p)
	}
}

func TestCheckerFindsWhatIsWrong(t *testing.T) {
	cases := []struct {
		name  string
		since int
		lines []string
		want  []string
	}{
		{"first joined without own join", -1, []string{"joined lobby j1 recovered 3:message 4:join:bob:b1"},
			[]string{"does not end with the session's own join/add"}},
		{"own join not last", -1, []string{"joined lobby j1 recovered 3:join:alice:s1 4:message"},
			[]string{"is not the last event"}},
		{"duplicate in joined", -1, []string{"joined lobby j1 recovered 3:message 3:message 4:add:alice:s1"},
			[]string{"duplicate or out of order"}},
		{"joined delivered again live", -1, []string{"joined lobby j1 recovered 3:message 4:join:alice:s1", "4:join:alice:s1 lobby"},
			[]string{"came in the joined reply already"}},
		{"live out of order", -1, []string{"joined lobby j1 recovered 4:join:alice:s1", "8:message lobby", "6:message lobby"},
			[]string{"after id 8"}},
		{"live twice", -1, []string{"joined lobby j1 recovered 4:join:alice:s1", "8:message lobby", "8:message lobby"},
			[]string{"delivered twice"}},
		{"live before joined", -1, []string{"5:message lobby"},
			[]string{"without a joined reply"}},
		{"live after left", -1, []string{"joined lobby j1 recovered 4:join:alice:s1", "left lobby l1", "5:message lobby"},
			[]string{"without a joined reply"}},
		{"own leave live", -1, []string{"joined lobby j1 recovered 4:join:alice:s1", "5:leave:alice:s1 lobby"},
			[]string{"does not receive its own"}},
		{"since not honoured", 5, []string{"joined lobby j1 recovered 5:message 6:join:alice:s1"},
			[]string{"joined reply to since 5 holds message 5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := newTestChecker()
			sent(k, "lobby", "j1", tc.since)
			feed(k, append([]string{"welcome"}, tc.lines...)...)
			wantProblems(t, k, tc.want...)
		})
	}
}

// A rejoin that was not recovered starts a new segment: the gap it was told of is no
// problem, and is listed.
func TestCheckerAllowsAGapItWasToldOf(t *testing.T) {
	k := newTestChecker()
	sent(k, "lobby", "j1", -1)
	feed(k, "welcome", "joined lobby j1 recovered 4:join:alice:s1")
	k.Dropped(false)
	sent(k, "lobby", "j2", 4)
	feed(k, "joined lobby j2 gap 9:message 10:message", "11:message lobby")
	wantProblems(t, k)
	if p := k.Verify("lobby", []uint64{4, 5, 6, 7, 8, 9, 10, 11}); len(p) > 0 {
		t.Fatal(p)
	}
	if r := k.Room("lobby"); !slices.Equal(r.Gaps, []Gap{{Since: 4, First: 9}}) {
		t.Fatalf("gaps %v", r.Gaps)
	}
}

// After a grace period ran out, a rejoin with since is a first join again: it ends with
// the session's own join.
func TestCheckerWantsOwnJoinAfterExpiry(t *testing.T) {
	k := newTestChecker()
	sent(k, "lobby", "j1", -1)
	feed(k, "welcome", "joined lobby j1 recovered 4:join:alice:s1")
	k.Dropped(false)
	k.Expired()
	sent(k, "lobby", "j2", 4)
	feed(k, "joined lobby j2 recovered 5:leave:alice:s1 6:message")
	wantProblems(t, k, "does not end with the session's own join/add")
}

// A checker that does not know the session's past (a new connection of a test) does not
// ask for an own join: a reply may hold one of an earlier membership anywhere. Once the
// session is known to be in the room, a new own join must be the last event.
func TestCheckerOfUnknownMembership(t *testing.T) {
	k := NewChecker(CheckerConfig{User: "alice"})
	sent(k, "lobby", "j1", 3)
	feed(k, "welcome", "joined lobby j1 recovered 5:message", "6:message lobby")
	sent(k, "room2", "j2", -1)
	feed(k, "joined room2 j2 recovered 7:add:alice:s1 8:message")
	wantProblems(t, k)
	sent(k, "room2", "j3", -1)
	feed(k, "joined room2 j3 recovered 7:add:alice:s1 8:message 9:join:alice:s1 10:message")
	wantProblems(t, k, "is not the last event")
}

func TestLines(t *testing.T) {
	var got []string
	for l := range Lines([]byte("{\"a\":1}\n\n  \n{\"b\":2}\n")) {
		got = append(got, string(l))
	}
	if !slices.Equal(got, []string{`{"a":1}`, `{"b":2}`}) {
		t.Fatalf("%q", got)
	}
}

// A joined reply without a ref (the gateway joined the session to a private room someone
// opened with its user) answers none of the session's joins: a join with since that waits
// for its reply meanwhile is not checked against it (the randomized checker once reported
// such a reply as one to since 6632 holding the room's old events).
func TestCheckerUnsolicitedJoinedAnswersNoJoin(t *testing.T) {
	k := newTestChecker()
	sent(k, "dm", "j1", 5)
	feed(k, "welcome", "joined dm - recovered 3:message 6:add:alice:s1", "joined dm j1 recovered 7:message")
	wantProblems(t, k)

	k = newTestChecker()
	sent(k, "dm", "j1", 5)
	feed(k, "welcome", "joined dm - recovered 3:message 6:add:alice:s1", "joined dm j1 recovered 5:message")
	wantProblems(t, k, "joined reply to since 5 holds message 5")
}
