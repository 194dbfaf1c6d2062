package chatclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/poll"
)

// A Session against two real gateways: it posts, is cut and rejoins with since, takes
// itself over (the old connection gets 4001), quits and comes back; through all of it, it
// receives every stored event of its room once and in order, and its checker finds nothing.
func TestSessionAcrossReconnectsTakeoverAndQuit(t *testing.T) {
	ns := chattest.NATS(t)
	g1 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-1"})
	chattest.StartGateway(t, ns, gateway.Config{ID: "gw-2"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	other := run(t, ctx, chatclient.Config{URL: g1.URL(), User: "bob", Rooms: []string{"lobby"}, Reconnect: true})
	s := run(t, ctx, chatclient.Config{URL: g1.URL(), User: "alice", Session: "a1", Rooms: []string{"lobby"}, Reconnect: true})
	wait(t, ctx, "joined", func() bool { return s.Joined() && other.Joined() })

	posted := 0
	post := func(n int, from ...*chatclient.Session) {
		for range n {
			for _, c := range from {
				c.Post("lobby", "")
				posted++
			}
		}
		wait(t, ctx, "acked", func() bool { return s.PendingIn("") == 0 && other.PendingIn("") == 0 })
	}
	post(5, s, other)
	gen := func() int { l := s.ConnLogs(); return l[len(l)-1].Gen }

	s.Cut()
	post(5, other) // while it reconnects
	wait(t, ctx, "rejoined after the cut", func() bool { return gen() == 2 && s.Joined() })
	post(5, s, other)

	s.Takeover()
	wait(t, ctx, "taken over", func() bool { return gen() == 3 && s.Joined() && s.ConnLogs()[1].Code == 4001 })
	post(5, s, other)

	s.Quit()
	wait(t, ctx, "quit", func() bool { return !s.Connected() })
	post(3, other)
	s.Return()
	wait(t, ctx, "back", func() bool { return gen() == 4 && s.Joined() })
	post(5, s, other)

	last := other.Acked()
	var newest uint64
	for _, a := range last {
		newest = max(newest, a.ID)
	}
	wait(t, ctx, "the newest message", func() bool { return s.Check().Last("lobby") >= newest })

	stored := storedIDs(t, g1.HTTP(), "lobby")
	for _, sess := range []*chatclient.Session{s, other} {
		if p := append(sess.Stats().Problems, sess.Check().Verify("lobby", stored)...); len(p) > 0 {
			t.Errorf("%s: %q", sess.User(), p)
		}
	}
	r := s.Room("lobby")
	if len(r.Segs) != 2 || r.Segs[1].How != "join" || len(r.Own) != 2 || len(r.Gaps) != 0 {
		t.Errorf("alice's runs %d (%+v), own joins %v, gaps %v: want one run up to the quit, a first join after it", len(r.Segs), r.Segs, r.Own, r.Gaps)
	}
	if got := len(s.Acked()) + len(other.Acked()); got != posted {
		t.Errorf("%d acked, %d posted", got, posted)
	}
	codes := []int{}
	for _, l := range s.ConnLogs() {
		codes = append(codes, l.Code)
	}
	// The quit's code is what the connection's reading goroutine saw: 1000, or -1 when
	// coder/websocket's Close read the gateway's close reply itself and the reader only saw
	// the socket closed (once in ten runs, in under a second). That the gateway took it for
	// a leave is checked above (a first join after it).
	if fmt.Sprint(codes[:2]) != "[-1 4001]" || codes[2] != 1000 && codes[2] != -1 || s.ConnLogs()[2].Cause != "quit" {
		t.Errorf("alice's connections ended with %v (the third by %q), want cut, 4001, quit", codes, s.ConnLogs()[2].Cause)
	}
}

func run(t *testing.T, ctx context.Context, cfg chatclient.Config) *chatclient.Session {
	s := chatclient.New(cfg)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func wait(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	if err := poll.Until(ctx, 10*time.Millisecond, cond); err != nil {
		t.Fatalf("not %s", what)
	}
}

// storedIDs reads every stored id of room from a gateway's GET /history.
func storedIDs(t *testing.T, base, room string) []uint64 {
	resp, err := http.Get(base + "/history?limit=1000&chatroomId=" + room)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct{ Events []chatclient.Msg }
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return chatclient.IDs(page.Events)
}
