package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/coder/websocket"
)

// TestClusterBurstJoinsEndWithOwnEvent joins a dozen sessions to a fresh room at once,
// spread over three gateways on three NATS nodes with an R3 stream, several rooms at a time:
// every joined reply ends with the session's own join (protocol 1.1, "Clarified"), and every
// event of the room reaches every session exactly once, in the reply or live, in order.
func TestClusterBurstJoinsEndWithOwnEvent(t *testing.T) {
	t.Parallel()
	// A small window: joins read more of the room from the stream.
	gws := clusterGateways(t, gateway.Config{Window: 2})
	// groups of a dozen sessions, each group joining a room of its own in every round.
	const perRoom, groups, rounds = 12, 6, 6
	clients := make([]*chattest.Client, perRoom*groups)
	for i := range clients {
		clients[i] = connect(t, gws[i%len(gws)], fmt.Sprintf("u%d", i), fmt.Sprintf("s%d", i))
	}
	for round := range rounds {
		room := func(i int) string { return fmt.Sprintf("burst-%d-%d", round, i/perRoom) }
		send(t, clients, func(i int) map[string]any {
			return map[string]any{"type": "join", "chatroomId": room(i)}
		})
		logs := make([][]chattest.Msg, len(clients))
		for i, c := range clients {
			logs[i] = readUntil(t, c, logs[i], func(m chattest.Msg) bool { return m.Type == "joined" })
		}
		// Once everybody has joined, a marker posted to each room ends what every session
		// must have received: every event of the room, once.
		send(t, clients, func(i int) map[string]any {
			if i%perRoom != 0 {
				return nil
			}
			return map[string]any{"type": "message", "chatroomId": room(i), "message": "marker"}
		})
		for i, c := range clients {
			logs[i] = readUntil(t, c, logs[i], func(m chattest.Msg) bool { return m.Type == "message" && m.Message == "marker" })
			checkRoom(t, room(i), fmt.Sprintf("u%d", i), fmt.Sprintf("s%d", i), logs[i], perRoom+1)
		}
		if t.Failed() {
			return
		}
	}
}

// clusterGateways starts a three-node NATS cluster in-process and a gateway on each node,
// with cfg and an R3 stream. A direct get of the stream is answered by any of the three
// replicas, including one that has not yet applied the newest events.
func clusterGateways(t *testing.T, cfg gateway.Config) []*chattest.Gateway {
	t.Helper()
	nodes := natstest.Cluster(t, 3)
	cfg.History.Replicas = 3
	gws := make([]*chattest.Gateway, len(nodes))
	for i, ns := range nodes {
		cfg.ID = fmt.Sprintf("gw-%d", i+1)
		gws[i] = chattest.StartGateway(t, ns, cfg)
	}
	return gws
}

// send has each client i send cmd(i) (none when nil), all clients at the same moment.
func send(t *testing.T, clients []*chattest.Client, cmd func(i int) map[string]any) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(clients))
	for i, c := range clients {
		cmd := cmd(i)
		if cmd == nil {
			continue
		}
		frame, err := json.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
			defer cancel()
			errs[i] = c.WS.Write(ctx, websocket.MessageText, frame)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("session %d: send: %v", i, err)
		}
	}
}

// readUntil appends what c receives to log until an object matching done has come.
func readUntil(t *testing.T, c *chattest.Client, log []chattest.Msg, done func(chattest.Msg) bool) []chattest.Msg {
	t.Helper()
	for {
		m := c.Next()
		if m.Type == "error" {
			t.Fatalf("error from the gateway: %s", m.Raw)
		}
		if log = append(log, m); done(m) {
			return log
		}
	}
}

// checkRoom checks what a session received of one room: its joined reply ends with its own
// join; the events after it are newer, in order, none of them already in the reply; want
// events in all.
func checkRoom(t *testing.T, room, user, sess string, log []chattest.Msg, want int) {
	t.Helper()
	var reply, live []chattest.Msg
	joined := false
	for _, m := range log {
		switch {
		case m.ChatroomID != room || m.Type == "ack":
		case m.Type == "joined":
			reply, joined = m.Events, true
		case !joined:
			t.Errorf("%s: %s got %s before its joined reply", room, user, m.Raw)
		default:
			live = append(live, m)
		}
	}
	if n := len(reply); n == 0 || reply[n-1].UserID != user || reply[n-1].SessionID != sess {
		t.Errorf("%s: %s/%s's joined does not end with its own join: %s", room, user, sess, brief(reply))
	}
	seen := map[uint64]bool{}
	var last uint64
	for _, e := range reply {
		seen[e.ID], last = true, e.ID
	}
	for _, e := range live {
		switch {
		case seen[e.ID]:
			t.Errorf("%s: %s got event %d (%s of %s) twice: reply %s, live %s", room, user, e.ID, e.Type, e.UserID, brief(reply), brief(live))
		case e.ID < last:
			t.Errorf("%s: %s got event %d after %d: reply %s, live %s", room, user, e.ID, last, brief(reply), brief(live))
		}
		seen[e.ID], last = true, e.ID
	}
	if len(seen) != want {
		t.Errorf("%s: %s got %d distinct events of the room, want %d: reply %s, live %s", room, user, len(seen), want, brief(reply), brief(live))
	}
}

// brief lists events as id:type/user.
func brief(evs []chattest.Msg) string {
	var b strings.Builder
	for i, e := range evs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%s/%s", e.ID, e.Type, e.UserID)
	}
	return "[" + b.String() + "]"
}
