package clustertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/poll"

	"github.com/chathub/chathub/internal/protocol"
)

// The whole NATS cluster stopped (SIGTERM to all three) and started again on the same store
// directories: while it is down, /readyz answers 503 and a message gets unavailable; after,
// publishing resumes, no acknowledged message is lost, and a private room made before is
// still listed by rooms and joinable by its two members only.
func TestNATSClusterRestart(t *testing.T) {
	c := Start(t, Options{})
	l := startLoad(t, c, "restart")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice := runClient(t, ctx, chatclient.Config{URL: c.LBWS(), User: "alice", Reconnect: true})
	bob := runClient(t, ctx, chatclient.Config{URL: c.LBWS(), User: "bob", Reconnect: true})
	carol := runClient(t, ctx, chatclient.Config{URL: c.LBWS(), User: "carol", Reconnect: true})
	dm, msgID := makePrivate(t, ctx, alice, bob)
	steady(t, l, 1000)

	acked := l.Acked()
	before := l.Summary()
	var wg sync.WaitGroup
	for _, n := range c.NATS {
		wg.Go(func() {
			if err := n.Stop(20 * time.Second); err != nil {
				t.Errorf("SIGTERM %s: %v", n.ServerName, err)
			}
		})
	}
	wg.Wait()
	down := time.Now()
	t.Logf("stopped all three NATS nodes (SIGTERM) with %d messages acknowledged", acked)

	for _, g := range c.Gateways {
		if err := poll.UntilNil(ctx, 15*time.Second, 100*time.Millisecond, func() error {
			return httpStatus(g.HTTP()+"/readyz", 503)
		}); err != nil {
			t.Errorf("%s /readyz with NATS down: %v", g.ID, err)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	f, err := alice.Request(rctx, map[string]any{"type": "message", "chatroomId": dm, "message": "while NATS is down"})
	rcancel()
	if err != nil || f.Type != "error" || f.Code != "unavailable" {
		t.Errorf("message with NATS down: %+v, %v; want error unavailable", f, err)
	}

	// Keep NATS down longer than a gateway heartbeat lives (three beats, 6 s), as an outage
	// that is not a blip: every heartbeat has expired when NATS comes back.
	time.Sleep(time.Until(down.Add(8 * time.Second)))
	if err := c.StartNATS(); err != nil {
		t.Fatal(err)
	}
	t.Logf("NATS cluster healthy again %v after the stop", time.Since(down).Round(time.Millisecond))
	for _, g := range c.Gateways {
		if err := poll.UntilNil(ctx, 60*time.Second, 100*time.Millisecond, func() error {
			return httpOK(g.HTTP() + "/readyz")
		}); err != nil {
			t.Fatalf("%s not ready after NATS came back: %v\n%s", g.ID, err, g.Tail(10))
		}
	}
	t.Logf("every gateway ready again %v after the stop", time.Since(down).Round(time.Millisecond))
	if err := l.WaitAckedSince(l.Acked(), 300, 60*time.Second); err != nil {
		t.Fatalf("publishing did not resume: %v; %v", err, l.Summary())
	}
	t.Logf("publishing again %v after the stop", time.Since(down).Round(time.Millisecond))

	checkPrivate(t, ctx, dm, msgID, alice, bob, carol)
	// Nobody left: every session stayed connected to a live gateway all along.
	rctx, rcancel = context.WithTimeout(ctx, 10*time.Second)
	users, err := carol.Request(rctx, map[string]any{"type": "users"})
	rcancel()
	if err != nil || len(users.Users) != len(l.Clients)+3 {
		t.Errorf("users after the restart: %d, %v; want %d", len(users.Users), err, len(l.Clients)+3)
	}
	steady(t, l, 500)
	after := l.Summary()
	finish(t, l)
	t.Logf("during the outage: reconnects %d, closes %v, errors %v", after.Reconnects-before.Reconnects, after.Closes, after.Errors)
}

// makePrivate makes the private room of a and b and posts one message to it.
func makePrivate(t *testing.T, ctx context.Context, a, b *chatclient.Session) (room string, msgID uint64) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := poll.UntilNil(ctx, 20*time.Second, 20*time.Millisecond, func() error {
		if a.Gateway() == "" || b.Gateway() == "" {
			return fmt.Errorf("not connected")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f, err := a.Request(rctx, map[string]any{"type": "private", "userId": b.User()})
	if err != nil || f.Type != "joined" || !f.Private {
		t.Fatalf("private: %+v, %v", f, err)
	}
	room = f.ChatroomID
	f, err = a.Request(rctx, map[string]any{"type": "message", "chatroomId": room, "message": "before the restart"})
	if err != nil || f.Type != "ack" {
		t.Fatalf("message to %s: %+v, %v", room, f, err)
	}
	return room, f.ID
}

// checkPrivate checks that room is listed by rooms for its members and joinable by them with
// its message msgID, and neither listed nor joinable for the outsider.
func checkPrivate(t *testing.T, ctx context.Context, room string, msgID uint64, a, b, outsider *chatclient.Session) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, cl := range []*chatclient.Session{a, b, outsider} {
		member := cl != outsider
		f, err := retryUnavailable(rctx, cl, map[string]any{"type": "rooms"})
		if err != nil || f.Type != "rooms" {
			t.Fatalf("rooms of %s: %+v, %v", cl.User(), f, err)
		}
		list, err := f.RoomList()
		if err != nil {
			t.Fatalf("rooms of %s: %v", cl.User(), err)
		}
		listed := slices.ContainsFunc(list, func(r protocol.RoomInfo) bool { return r.ChatroomID == room && r.Private })
		if listed != member {
			t.Errorf("rooms of %s lists %s: %v, want %v (%+v)", cl.User(), room, listed, member, list)
		}
		f, err = retryUnavailable(rctx, cl, map[string]any{"type": "join", "chatroomId": room})
		if err != nil {
			t.Fatalf("join %s by %s: %v", room, cl.User(), err)
		}
		switch {
		case member && (f.Type != "joined" || !slices.ContainsFunc(f.Events, func(e chatclient.Msg) bool { return e.ID == msgID })):
			t.Errorf("join %s by member %s: %+v, want joined with event %d", room, cl.User(), f, msgID)
		case !member && (f.Type != "error" || f.Code != "forbidden"):
			t.Errorf("join %s by outsider %s: %+v, want forbidden", room, cl.User(), f)
		}
	}
}

// retryUnavailable sends cmd until the reply is not the error unavailable ("retry later"), as
// a careful client does while the cluster's key-value buckets still elect their leaders.
func retryUnavailable(ctx context.Context, cl *chatclient.Session, cmd map[string]any) (chatclient.Msg, error) {
	for {
		f, err := cl.Request(ctx, cmd)
		if err != nil || f.Type != "error" || f.Code != "unavailable" {
			return f, err
		}
		select {
		case <-ctx.Done():
			return f, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
