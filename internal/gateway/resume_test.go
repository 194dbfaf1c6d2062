package gateway_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// postN posts n messages to room from c and returns their ids, in order, once all are acked.
func postN(t *testing.T, c *chattest.Client, room string, n int, tag string) []uint64 {
	t.Helper()
	for i := range n {
		c.Send(map[string]any{"type": "message", "chatroomId": room, "message": fmt.Sprint(tag, i), "ref": fmt.Sprint(tag, i)})
	}
	var ids []uint64
	for i := range n {
		ack := c.Until("ack", func(m chattest.Msg) bool { return m.Ref == fmt.Sprint(tag, i) })
		ids = append(ids, ack.ID)
	}
	return ids
}

// collect takes objects from c until an event of room with id upto has arrived, and returns
// the ids of the room's events among them.
func collect(t *testing.T, c *chattest.Client, room string, upto uint64) []uint64 {
	t.Helper()
	var ids []uint64
	for {
		m := c.Next()
		if m.ID == 0 || m.ChatroomID != room {
			continue
		}
		ids = append(ids, m.ID)
		if m.ID >= upto {
			return ids
		}
	}
}

// resumeJoin sends a join with since (and limit, when > 0) and returns the joined reply.
func resumeJoin(c *chattest.Client, room string, since uint64, limit int) chattest.Msg {
	cmd := map[string]any{"type": "join", "chatroomId": room, "since": since, "ref": "resume"}
	if limit > 0 {
		cmd["limit"] = limit
	}
	c.Send(cmd)
	return c.Until("joined", func(m chattest.Msg) bool { return m.Ref == "resume" })
}

// dropped is bob in lobby with alice, who has seen the first posts and then lost his
// connection (no close frame: his session is in its grace period); alice posted more
// meanwhile.
type dropped struct {
	alice     *chattest.Client
	lastSeen  uint64
	missedIDs []uint64
}

func dropBob(t *testing.T, g *chattest.Gateway, missed int) *dropped {
	alice := chattest.Dial(t, g.URL(), "alice", "a1")
	alice.Expect("welcome")
	alice.Join("lobby")
	bob := chattest.Dial(t, g.URL(), "bob", "b1")
	bob.Expect("welcome")
	bob.Join("lobby")
	seen := postN(t, alice, "lobby", 10, "before-")
	got := collect(t, bob, "lobby", seen[len(seen)-1])
	if !slices.Equal(got, seen) {
		t.Fatalf("bob saw %v, want %v", got, seen)
	}
	bob.WS.CloseNow()
	bob.Closed()
	return &dropped{alice: alice, lastSeen: seen[len(seen)-1],
		missedIDs: postN(t, alice, "lobby", missed, "missed-")}
}

func TestResumeGetsExactlyTheMissedEventsThenLive(t *testing.T) {
	ns := chattest.NATS(t)
	g := chattest.StartGateway(t, ns, gateway.Config{})
	st := storeOf(t, ns)
	d := dropBob(t, g, 20)

	bob := chattest.Dial(t, g.URL(), "bob", "b1")
	bob.Expect("welcome")
	j := resumeJoin(bob, "lobby", d.lastSeen, 0)
	if !j.Recovered {
		t.Fatalf("joined not recovered: %s", j.Raw)
	}
	if got, want := chatclient.IDs(j.Events), chatclient.After(storedIDs(t, st, "lobby"), d.lastSeen); !slices.Equal(got, want) {
		t.Fatalf("joined events %v, want every stored event after %d: %v", got, d.lastSeen, want)
	}
	if got := chatclient.IDs(j.Events); !slices.Equal(got, d.missedIDs) {
		t.Fatalf("a reconnect within the grace period stored presence events: joined %v, missed posts %v", got, d.missedIDs)
	}
	live := postN(t, d.alice, "lobby", 5, "live-")
	got := append(chatclient.IDs(j.Events), collect(t, bob, "lobby", live[len(live)-1])...)
	if want := chatclient.After(storedIDs(t, st, "lobby"), d.lastSeen); !slices.Equal(got, want) {
		t.Fatalf("joined+live %v, want %v", got, want)
	}
	for _, m := range bob.Pending() {
		if m.ID != 0 {
			t.Fatalf("bob got an extra event %s", m.Raw)
		}
	}
}

func TestResumeGapLargerThanLimitIsNotRecovered(t *testing.T) {
	ns := chattest.NATS(t)
	g := chattest.StartGateway(t, ns, gateway.Config{})
	st := storeOf(t, ns)
	d := dropBob(t, g, 30)

	bob := chattest.Dial(t, g.URL(), "bob", "b1")
	bob.Expect("welcome")
	j := resumeJoin(bob, "lobby", d.lastSeen, 7)
	if j.Recovered {
		t.Fatalf("joined recovered with 30 missing and limit 7: %s", j.Raw)
	}
	all := storedIDs(t, st, "lobby")
	if got, want := chatclient.IDs(j.Events), all[len(all)-7:]; !slices.Equal(got, want) {
		t.Fatalf("joined events %v, want the latest 7 %v", got, want)
	}
	// Exactly limit missing is still recovered.
	j = resumeJoin(bob, "lobby", all[len(all)-8], 7)
	if !j.Recovered || !slices.Equal(chatclient.IDs(j.Events), all[len(all)-7:]) {
		t.Fatalf("7 missing with limit 7: %s", j.Raw)
	}
	live := postN(t, d.alice, "lobby", 3, "live-")
	if got := collect(t, bob, "lobby", live[2]); !slices.Equal(got, live) {
		t.Fatalf("live after the joined replies %v, want %v", got, live)
	}
}

func TestResumeSinceBeyondTheEndMissesNothing(t *testing.T) {
	ns := chattest.NATS(t)
	g := chattest.StartGateway(t, ns, gateway.Config{})
	d := dropBob(t, g, 3)
	end := d.missedIDs[2]

	bob := chattest.Dial(t, g.URL(), "bob", "b1")
	bob.Expect("welcome")
	for _, since := range []uint64{end, end + 1000} {
		j := resumeJoin(bob, "lobby", since, 0)
		if !j.Recovered || len(j.Events) != 0 {
			t.Fatalf("since %d (room ends at %d): %s", since, end, j.Raw)
		}
	}
	live := postN(t, d.alice, "lobby", 2, "live-")
	if got := collect(t, bob, "lobby", live[1]); !slices.Equal(got, live) {
		t.Fatalf("live %v, want %v", got, live)
	}
}

// A client dropped by one gateway resumes on another while a third user keeps posting.
func TestResumeAcrossGateways(t *testing.T) {
	ns := chattest.NATS(t)
	gw1 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-1"})
	gw2 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-2"})
	st := storeOf(t, ns)

	bob := chattest.Dial(t, gw1.URL(), "bob", "b1")
	bob.Expect("welcome")
	j := bob.Join("lobby")
	p := startPoster(t, gw2.URL(), "carol", "lobby", 8)
	p.waitCount(t, 20)
	// Bob reads a while on gw1, then his connection drops.
	seen := chatclient.IDs(j.Events)
	for len(seen) < 30 {
		if m := bob.Next(); m.ID != 0 && m.ChatroomID == "lobby" {
			seen = append(seen, m.ID)
		}
	}
	bob.WS.CloseNow()
	bob.Closed()
	last := seen[len(seen)-1]
	p.waitCount(t, p.count()+20) // carol goes on posting while bob is away

	bob2 := chattest.Dial(t, gw2.URL(), "bob", "b1")
	if w := bob2.Expect("welcome"); w.GatewayID != "gw-2" {
		t.Fatalf("welcome %s", w.Raw)
	}
	j2 := resumeJoin(bob2, "lobby", last, 0)
	if !j2.Recovered {
		t.Fatalf("not recovered: %s", j2.Raw)
	}
	p.waitCount(t, p.count()+20)
	acked := p.finish(t)
	end := acked[len(acked)-1]
	got := append(chatclient.IDs(j2.Events), collect(t, bob2, "lobby", end)...)
	all := storedIDs(t, st, "lobby")
	if err := chatclient.Contiguous(all, append(seen, got...)); err != nil {
		t.Fatalf("bob's events over both gateways: %v\nseen %v\nresumed %v", err, seen, got)
	}
	if want := chatclient.After(all, last); !slices.Equal(got, want) {
		t.Fatalf("resumed %v, want %v", got, want)
	}
}

// A join without since by a session already counted in the room (its earlier connection
// stored its join and ended before its reply, or was taken over) gets a reply that ends
// with that join, as a first join's does; what was stored after it follows the reply, once.
func TestJoinOfACountedSessionEndsWithItsOwnEvent(t *testing.T) {
	g := gw(t, gateway.Config{})
	bob := connect(t, g, "bob", "b1")
	join(t, bob, "lobby")
	first := connect(t, g, "alice", "a1")
	j := join(t, first, "lobby")
	own := j.Events[len(j.Events)-1]
	if own.Type != "join" || own.UserID != "alice" {
		t.Fatalf("alice's first reply ends with %s", own.Raw)
	}
	var later []uint64
	for i := range 3 {
		later = append(later, post(t, bob, "lobby", fmt.Sprint("after ", i)).ID)
	}

	second := connect(t, g, "alice", "a1") // takes the session over, still counted in lobby
	r := join(t, second, "lobby")
	if last := r.Events[len(r.Events)-1]; last.ID != own.ID {
		t.Fatalf("the second reply ends with %s, want alice's own join %d", last.Raw, own.ID)
	}
	for _, id := range later {
		if m := second.Until("message", nil); m.ID != id {
			t.Fatalf("after the reply: message %d, want %d", m.ID, id)
		}
	}
}

// The same on another gateway, where the room's window starts after the session's join
// (nobody there was in the room): the reply still ends with it and the later events follow
// (read from the stream). A rejoin with a since before that join ends there too, without
// the events up to since; one with a since after it is an ordinary resume.
func TestJoinOfACountedSessionOnAnotherGateway(t *testing.T) {
	g1, g2, _ := gw2(t, gateway.Config{})
	bob := connect(t, g1, "bob", "b1")
	before := lastEvent(t, join(t, bob, "lobby")).ID // bob's join
	post(t, bob, "lobby", "before alice")
	first := connect(t, g1, "alice", "a1")
	own := lastEvent(t, join(t, first, "lobby"))
	if own.Type != "join" || own.UserID != "alice" {
		t.Fatalf("alice's first reply ends with %s", own.Raw)
	}
	var later []uint64
	for i := range 3 {
		later = append(later, post(t, bob, "lobby", fmt.Sprint("after ", i)).ID)
	}
	for _, c := range []struct {
		name  string
		since any // nil: none
		from  uint64
	}{{"no since", nil, 0}, {"since before the join", before, before}} {
		second := connect(t, g2, "alice", "a1") // takes the session over, still counted in lobby
		var r chattest.Msg
		if c.since == nil {
			r = join(t, second, "lobby")
		} else {
			r = join(t, second, "lobby", "since", c.since)
		}
		if last := lastEvent(t, r); last.ID != own.ID {
			t.Fatalf("%s: the reply ends with %s, want alice's own join %d", c.name, last.Raw, own.ID)
		}
		if first := r.Events[0].ID; first <= c.from {
			t.Fatalf("%s: the reply begins with %d, at or before since %d", c.name, first, c.from)
		}
		for _, id := range later {
			if m := second.Until("message", nil); m.ID != id {
				t.Fatalf("%s: after the reply: message %d, want %d", c.name, m.ID, id)
			}
		}
	}
	third := connect(t, g2, "alice", "a1")
	r := join(t, third, "lobby", "since", later[0])
	var ids []uint64
	for _, e := range r.Events {
		ids = append(ids, e.ID)
	}
	if !slices.Equal(ids, later[1:]) {
		t.Fatalf("resume since %d: reply %v, want %v", later[0], ids, later[1:])
	}
}
