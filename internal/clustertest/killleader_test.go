package clustertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/poll"
)

// The NATS node leading the event stream killed with SIGKILL: no acknowledged message is
// lost, publishing resumes by itself within seconds, and clients stay connected.
func TestStreamLeaderKilled(t *testing.T) {
	c := Start(t, Options{})
	l := startLoad(t, c, "leader")
	steady(t, l, 1000)

	nc, err := c.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	leader, err := c.StreamLeader(ctx, nc)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	before := l.Summary()
	acked := l.Acked()
	killed := time.Now()
	leader.Kill()
	t.Logf("killed %s (SIGKILL), the leader of CHAT_EVENTS, with %d messages acknowledged", leader.ServerName, acked)

	// Messages in flight at the kill may be acknowledged at once; 50 more means publishing
	// works again. A new leader needs an election: nats-server's RAFT election timeout is
	// 4 to 9 s after the leader's last heartbeat.
	if err := l.WaitAckedSince(acked, 50, 30*time.Second); err != nil {
		t.Fatalf("publishing did not resume: %v; %v", err, l.Summary())
	}
	resumed := time.Since(killed)
	t.Logf("50 more messages acknowledged %v after the kill", resumed.Round(time.Millisecond))
	if resumed > 15*time.Second {
		t.Errorf("publishing took %v to resume, want seconds", resumed)
	}
	// Only the stream's leader answers stream info, and while the followers still take the
	// dead node for the leader a request goes unanswered: each asks with a deadline of its
	// own, so that one lost request costs one try and not the whole wait.
	err = poll.UntilNil(ctx, 20*time.Second, 100*time.Millisecond, func() error {
		qctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := c.StreamLeader(qctx, nc)
		if err == nil && n == leader {
			err = fmt.Errorf("still led by %s", n.ServerName)
		}
		return err
	})
	if err != nil {
		t.Errorf("no new stream leader: %v", err)
	}
	steady(t, l, 1000)
	after := l.Summary()
	finish(t, l)
	t.Logf("while the leader failed over: reconnects %d, errors %v, resent %d",
		after.Reconnects-before.Reconnects, after.Errors, after.Resent-before.Resent)
	if n := after.Reconnects - before.Reconnects; n != 0 {
		t.Errorf("%d clients reconnected (closes %v); a stream leader change should not drop them", n, after.Closes)
	}
}
