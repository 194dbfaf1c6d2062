package clustertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/poll"
)

// A rolling restart: each gateway in turn gets SIGTERM, drains (close event, then 1001), and
// is started again; its clients move to the others through the load balancer and lose nothing.
func TestRollingRestart(t *testing.T) {
	c := Start(t, Options{})
	l := startLoad(t, c, "roll")
	steady(t, l, 500)
	for i, g := range c.Gateways {
		on := map[*chatclient.Session]bool{}
		for _, cl := range l.Clients {
			if cl.Gateway() == g.ID {
				on[cl] = true
			}
		}
		before := l.Summary()
		start := time.Now()
		if err := g.Stop(15 * time.Second); err != nil {
			t.Fatalf("SIGTERM %s: %v\n%s", g.ID, err, g.Tail(10))
		}
		stopped := time.Since(start)
		err := poll.UntilNil(t.Context(), 45*time.Second, 20*time.Millisecond, func() error {
			for cl := range on {
				if cl.Gateway() == g.ID {
					return fmt.Errorf("%s is still on %s", cl.User(), g.ID)
				}
			}
			return l.WaitJoined(0)
		})
		if err != nil {
			t.Fatalf("clients of %s did not come back: %v", g.ID, err)
		}
		moved := time.Since(start)
		if err := c.StartGateway(i); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitLBServersUp(20 * time.Second); err != nil {
			t.Fatal(err)
		}
		after := l.Summary()
		t.Logf("%s: %d clients on it; drained and exited in %v, all clients in their rooms again after %v; ready again after %v; clients per gateway %v",
			g.ID, len(on), stopped.Round(time.Millisecond), moved.Round(time.Millisecond),
			time.Since(start).Round(time.Millisecond), after.Gateways)
		if got := after.Closes[1001] - before.Closes[1001]; got != len(on) {
			t.Errorf("%s: %d clients saw 1001, want the %d that were on it", g.ID, got, len(on))
		}
		for cl := range on {
			if cl.Notices()["close"] == 0 {
				t.Errorf("%s: %s saw no close event before 1001", g.ID, cl.User())
			}
		}
		steady(t, l, 300)
	}
	finish(t, l)
}
