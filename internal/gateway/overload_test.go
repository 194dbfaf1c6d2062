package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// The overload policy: a client is cut (4000) only when it does not read. One that reads
// slowly but steadily, and everyone when the gateway itself is short of CPU, is served,
// however late.

// rawReader counts the message events a raw WebSocket client reads, optionally pausing after
// every frame (a slow network), until ctx ends or the connection does.
type rawReader struct {
	msgs   atomic.Int64
	joined chan struct{}
	ended  chan error
}

// A negative pause stops reading after the joined reply.
func readRaw(ctx context.Context, t *testing.T, g *chattest.Gateway, user, room string, pause time.Duration) (*rawReader, *websocket.Conn) {
	t.Helper()
	ws, _, err := chattest.DialRaw(ctx, g.URL(), url.Values{"user": {user}, "session": {"s"}}, nil, 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { ws.CloseNow() })
	r := &rawReader{joined: make(chan struct{}), ended: make(chan error, 1)}
	go func() {
		joined := false
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				r.ended <- err
				return
			}
			for line := range bytes.SplitSeq(data, []byte("\n")) {
				switch {
				case bytes.HasPrefix(line, []byte(`{"type":"joined"`)) && !joined:
					joined = true
					close(r.joined)
				case bytes.Contains(line, []byte(`"type":"message"`)):
					r.msgs.Add(1)
				}
			}
			switch {
			case pause < 0 && joined:
				<-ctx.Done() // reads nothing more, answers no ping
				r.ended <- ctx.Err()
				return
			case pause > 0:
				time.Sleep(pause) // the slow network being modelled
			}
		}
	}()
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"join","chatroomId":"`+room+`","limit":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.joined:
	case err := <-r.ended:
		t.Fatalf("%s ended before joining: %v", user, err)
	}
	return r, ws
}

// sendN posts n messages of size bytes to room, pipelined (the gateway acks them in order).
func sendN(c *chattest.Client, room string, n, size int) {
	pad := strings.Repeat("x", size)
	for i := range n {
		c.Send(map[string]any{"type": "message", "chatroomId": room, "message": fmt.Sprint(i, " ", pad), "ref": fmt.Sprint("p", i)})
	}
}

// acked waits for n acks and fails on any error reply.
func acked(t *testing.T, c *chattest.Client, n int) {
	t.Helper()
	for range n {
		if m := c.Until("ack", nil); m.Type != "ack" {
			t.Fatalf("publisher: %s", m.Raw)
		}
	}
}

// publish posts n messages and waits for their acks.
func publish(t *testing.T, c *chattest.Client, room string, n, size int) {
	t.Helper()
	sendN(c, room, n, size)
	acked(t, c, n)
}

func waitCount(t *testing.T, ctx context.Context, r *rawReader, want int64, who string) {
	t.Helper()
	for r.msgs.Load() < want {
		select {
		case err := <-r.ended:
			t.Fatalf("%s was cut after %d of %d messages: %v", who, r.msgs.Load(), want, err)
		case <-ctx.Done():
			t.Fatalf("%s got %d of %d messages", who, r.msgs.Load(), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// A client on a slow network reads a burst of 2 MB at about 0.5 MB/s: its backlog grows to
// most of the burst, more than the old 128-frame queue held, and it is not cut.
func TestSlowSteadyReaderIsNotCut(t *testing.T) {
	g := gw(t, gateway.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	slow, _ := readRaw(ctx, t, g, "phone", "lobby", 30*time.Millisecond)
	pub := connect(t, g, "alice", "a1")
	join(t, pub, "lobby")
	const n = 2000
	publish(t, pub, "lobby", n, 1000)
	waitCount(t, ctx, slow, n, "the slow reader")
	if v := metricValue(t, g, "chat_slow_consumer_closes_total"); v != 0 {
		t.Fatalf("%v sessions cut as too slow", v)
	}
}

// A client that stops reading is cut, and a reading one in the same room is not slowed nor
// cut: once what is queued for it exceeds its budget, or, with a budget it cannot fill,
// once a write to it has waited WriteTimeout (stuckWriters).
func TestStoppedReaderIsCutOthersServed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget int
		n      int // messages of 1 KB published
	}{
		{"over its budget", 1 << 20, 3000},  // 3 MB: three budgets, whatever its socket holds
		{"its write stuck", 64 << 20, 1000}, // 1 MB: more than its sockets hold, under the budget
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Small socket buffers, so what the stopped client does not read stays in the gateway.
			g := chattest.StartGatewaySendBuffer(t, chattest.NATS(t), gateway.Config{SendBudget: tc.budget, WriteTimeout: 2 * time.Second}, 32<<10)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			reader, _ := readRaw(ctx, t, g, "reader", "lobby", 0)
			readRaw(ctx, t, g, "stopped", "lobby", -1)
			pub := connect(t, g, "alice", "a1")
			join(t, pub, "lobby")
			publish(t, pub, "lobby", tc.n, 1000)
			waitCount(t, ctx, reader, int64(tc.n), "the reading client")
			waitFor(t, ctx, "the stopped reader cut", func() bool { return metricValue(t, g, "chat_slow_consumer_closes_total") == 1 })
			waitFor(t, ctx, "its connection gone", func() bool { return metricValue(t, g, "chat_connections") == 2 })
			pub.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "after", "ref": "after"})
			acked(t, pub, 1)
			waitCount(t, ctx, reader, int64(tc.n)+1, "the reading client")
			if v := metricValue(t, g, "chat_slow_consumer_closes_total"); v != 1 {
				t.Fatalf("%v sessions cut as too slow, want the stopped one", v)
			}
		})
	}
}

// A gateway short of CPU (one processor, and a goroutine spinning on it) falls behind: its
// readers' backlogs grow, and nobody who reads is cut.
//
// Not parallel: GOMAXPROCS is the whole test binary's, and the spinner would starve the
// package's other tests too (in CI their joins then timed out).
func TestStarvedGatewayCutsNobodyWhoReads(t *testing.T) {
	g := chattest.StartGateway(t, chattest.NATS(t), gateway.Config{ID: "gw-1"})
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	spin, stop := make(chan struct{}), make(chan struct{})
	go func() {
		close(spin)
		for {
			select {
			case <-stop:
				return
			default:
				for i := 0; i < 1e6; i++ { // busy, yielding only now and then
				}
			}
		}
	}()
	defer close(stop)
	<-spin
	const readers = 20
	rs := make([]*rawReader, readers)
	for i := range rs {
		rs[i], _ = readRaw(ctx, t, g, fmt.Sprint("r", i), "lobby", 0)
	}
	pubs := make([]*chattest.Client, 4)
	for i := range pubs {
		pubs[i] = connect(t, g, fmt.Sprint("pub", i), "p")
		join(t, pubs[i], "lobby")
	}
	for _, p := range pubs {
		sendN(p, "lobby", 500, 200)
	}
	// The gateway sees that it is short of CPU: its writers linger (pressure.go).
	for metricValue(t, g, "chat_write_linger_seconds") == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the writers never lingered in a starved process")
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, p := range pubs {
		acked(t, p, 500)
	}
	for i, r := range rs {
		waitCount(t, ctx, r, 4*500, fmt.Sprint("reader ", i))
	}
	if v := metricValue(t, g, "chat_slow_consumer_closes_total"); v != 0 {
		t.Fatalf("%v sessions cut as too slow", v)
	}
}
