package clustertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/poll"
)

// A gateway killed with SIGKILL: its clients reconnect through the load balancer to the
// others and rejoin with since, losing nothing; the sessions that do not come back leave
// presence (leave and offline, once each) within 15 s.
func TestGatewayKilled(t *testing.T) {
	c := Start(t, Options{})
	victim, other := c.Gateways[1], c.Gateways[0]

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// The watcher comes before the load: it sees each load client's online once, when it
	// connects. (Connected after, it once saw a load client's online that was still on its
	// way over core NATS, which nothing orders with the joins.)
	watcher := runClient(t, ctx, chatclient.Config{URL: other.WS(), User: "watcher", Rooms: []string{"watch"}, Reconnect: true})
	var leavers []*chatclient.Session
	for i := range 3 {
		leavers = append(leavers, runClient(t, ctx, chatclient.Config{URL: victim.WS(),
			User: fmt.Sprintf("leaver-%d", i), Rooms: []string{"watch"}}))
	}
	if err := poll.UntilNil(ctx, 20*time.Second, 20*time.Millisecond, func() error {
		if !watcher.Joined() || !leavers[0].Joined() || !leavers[1].Joined() || !leavers[2].Joined() {
			return fmt.Errorf("watcher or leavers not joined")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, c, "kill")
	steady(t, l, 1000)
	onVictim := 0
	for _, cl := range l.Clients {
		if cl.Gateway() == victim.ID {
			onVictim++
		}
	}
	if onVictim == 0 {
		t.Fatalf("no load client on %s: %v", victim.ID, l.Summary())
	}

	killed := time.Now()
	victim.Kill()
	t.Logf("killed %s (SIGKILL); %d load clients were on it", victim.ID, onVictim)

	// Rejoining has no deadline of its own in the contract; 45 s allows for a busy machine
	// (the presence clean-up below keeps its 15 s). Right after the kill the clients have not
	// noticed yet, so wait until none is on the dead gateway and every one is joined again.
	err := poll.UntilNil(ctx, 45*time.Second, 100*time.Millisecond, func() error {
		for _, cl := range l.Clients {
			if g := cl.Gateway(); g == victim.ID {
				return fmt.Errorf("%s is still on %s", cl.User(), g)
			}
		}
		return l.WaitJoined(time.Second)
	})
	if err != nil {
		t.Fatalf("clients of the dead gateway did not come back: %v", err)
	}
	t.Logf("every load client rejoined %v after the kill: %v", time.Since(killed).Round(time.Millisecond), l.Summary().Gateways)

	// The leavers' sessions go: users, rooms, and leave/offline seen by the watcher.
	err = poll.UntilNil(ctx, 15*time.Second-time.Since(killed), 100*time.Millisecond, func() error {
		return presenceGone(ctx, watcher, leavers, len(l.Clients))
	})
	if err != nil {
		t.Errorf("the dead gateway's sessions are still present 15 s after the kill: %v", err)
	} else {
		t.Logf("the dead gateway's sessions were gone from presence %v after the kill", time.Since(killed).Round(time.Millisecond))
	}
	steady(t, l, 1000)
	finish(t, l)

	n := watcher.Notices()
	for _, lv := range leavers {
		for _, k := range []string{"leave " + lv.User() + " watch", "offline " + lv.User()} {
			if n[k] != 1 {
				t.Errorf("watcher saw %q %d times, want once", k, n[k])
			}
		}
	}
	for _, cl := range l.Clients {
		// Clients that moved within their grace period emit nothing: online once when they
		// first connected, and offline once when they close with 1000 at the end.
		if n["offline "+cl.User()] > 1 || n["online "+cl.User()] > 1 {
			t.Errorf("watcher saw online %d and offline %d times for %s, which moved within its grace period",
				n["online "+cl.User()], n["offline "+cl.User()], cl.User())
		}
	}
}

// presenceGone checks, through the watcher, that the leavers are neither users nor members of
// the watch room, that every load user has one session, and that the watcher saw each
// leaver's leave and offline.
func presenceGone(ctx context.Context, watcher *chatclient.Session, leavers []*chatclient.Session, loadUsers int) error {
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	users, err := watcher.Request(rctx, map[string]any{"type": "users"})
	if err != nil {
		return err
	}
	list, err := users.UserList()
	if err != nil {
		return err
	}
	var extra []string
	for _, u := range list {
		if strings.HasPrefix(u.UserID, "leaver-") || u.Sessions != 1 {
			extra = append(extra, fmt.Sprintf("%s:%d", u.UserID, u.Sessions))
		}
	}
	if len(extra) > 0 || len(list) != loadUsers+1 {
		return fmt.Errorf("users: %d, want %d; still there or with several sessions: %v", len(list), loadUsers+1, extra)
	}
	rooms, err := watcher.Request(rctx, map[string]any{"type": "rooms"})
	if err != nil {
		return err
	}
	roomList, err := rooms.RoomList()
	if err != nil {
		return err
	}
	for _, r := range roomList {
		if r.ChatroomID == "watch" && r.Users != 1 {
			return fmt.Errorf("rooms: watch has %d users, want 1 (the watcher)", r.Users)
		}
	}
	n := watcher.Notices()
	for _, lv := range leavers {
		if n["leave "+lv.User()+" watch"] == 0 || n["offline "+lv.User()] == 0 {
			return fmt.Errorf("watcher has not seen leave and offline of %s", lv.User())
		}
	}
	return nil
}

// runClient runs a client until ctx ends or the test does.
func runClient(t *testing.T, ctx context.Context, cfg chatclient.Config) *chatclient.Session {
	cl := chatclient.New(cfg)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); cl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("client %s did not stop", cfg.User)
		}
	})
	return cl
}
