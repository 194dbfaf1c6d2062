package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/poll"
	"github.com/coder/websocket"
)

// An idle connection holds no goroutine on Linux (its socket waits in the poller, idle.go)
// and one elsewhere: the loop and the writer run only while they have work, so the stacks
// that commands grew (joins go deep into NATS) do not stay with every idle connection. Half the
// clients give their token as their first frame (the goroutine that waited for it lets
// go), half in the URL; every one has joined, one has posted (and had its ack), all have
// received. The test runs alone (not parallel): it counts the goroutines of the whole test
// binary.
func TestIdleConnectionRunsNothing(t *testing.T) {
	g := chattest.StartGateway(t, chattest.NATS(t), gateway.Config{ID: "gw-idle", AuthSecret: hardSecret, AuthTimeout: 10 * time.Second})
	const n = 20
	clients := make([]*chattest.Client, n)
	for i := range clients {
		user := fmt.Sprintf("idle%d", i)
		if i%2 == 0 {
			clients[i] = welcomed(t, g, url.Values{"token": {signFor(t, hardSecret, user, time.Hour)}}, user)
		} else {
			c, err := chattest.DialQuery(t, g.URL(), url.Values{"session": {"s1"}})
			if err != nil {
				t.Fatal(err)
			}
			c.Send(map[string]any{"type": "auth", "token": signFor(t, hardSecret, user, time.Hour)})
			c.Expect("welcome")
			clients[i] = c
		}
		join(t, clients[i], "lobby")
	}
	post(t, clients[0], "lobby", "hello")
	for _, c := range clients[1:] {
		c.Until("message", func(m chattest.Msg) bool { return m.Message == "hello" })
	}
	waitIdle(t, n)
}

// waitIdle waits until the test binary's connections are n idle ones: parked in the
// poller with no goroutine where there is one (Linux), else each with one goroutine,
// waiting for its client outside coder/websocket where the reader can stop short
// (readerStops), inside it elsewhere.
func waitIdle(t *testing.T, n int) {
	t.Helper()
	var wantParked, wantWaiting, wantReaders int
	switch {
	case runtime.GOOS == "linux":
		wantParked = n
	case readerStops:
		wantWaiting = n
	default:
		wantReaders = n
	}
	var g goroutineCount
	var parked int
	if err := poll.Within(context.Background(), chattest.Timeout, 10*time.Millisecond, func() bool {
		g, parked = connGoroutines(), gateway.ParkedReaders()
		return parked == wantParked && g.waiting == wantWaiting && g.readers == wantReaders && g.loops == 0 && g.writers == 0
	}); err != nil {
		t.Fatalf("%d idle connections: %d parked, %d waiting readers, %d readers in a read, %d loops, %d writers:\n%s",
			n, parked, g.waiting, g.readers, g.loops, g.writers, g.dump)
	}
}

// readerStops says whether this platform's readers wait outside coder/websocket (idle.go).
var readerStops = runtime.GOOS == "linux" || runtime.GOOS == "darwin" || runtime.GOOS == "freebsd"

type goroutineCount struct {
	waiting, readers, loops, writers int
	inMessage                        int // readers inside a message's frames
	dump                             string
}

// connGoroutines counts the goroutines in the gateway's connection functions; a goroutine
// awaiting a token holds the loop.
func connGoroutines() (c goroutineCount) {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	c.dump = b.String()
	_, groups, _ := strings.Cut(c.dump, "\n") // after "goroutine profile: total N"
	for _, group := range strings.Split(groups, "\n\n") {
		count, _, _ := strings.Cut(group, " @")
		k, err := strconv.Atoi(count)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(group, "gateway.(*conn).read\t") || strings.Contains(group, "gateway.(*conn).read+"):
			c.readers += k
			if strings.Contains(group, "websocket.(*msgReader).Read") {
				c.inMessage += k
			}
		case strings.Contains(group, "gateway.(*conn).waitForFrame"):
			c.waiting += k
		case strings.Contains(group, "gateway.(*conn).serve") || strings.Contains(group, "gateway.(*conn).awaitToken"):
			c.loops += k
		case strings.Contains(group, "gateway.(*conn).writeLoop"):
			c.writers += k
		}
	}
	return c
}

// A waiting reader wakes for whatever the client sends and goes back to waiting: pongs to
// the gateway's pings (answered while the connection idles, and it is not cut), and a
// command sent in two frames with the server's reader caught between them (it must wait
// inside the message, never stop short there and lose its first half). The test runs
// alone: it counts goroutines.
func TestWaitingReaderWakesForPongsAndFragments(t *testing.T) {
	// Pings 2 s apart: a reading client's pong is late by a whole interval only on a
	// machine stalled that long (1 s was cut once in CI, TestPingCutsOnlyPeersThatDoNotAnswer).
	g := chattest.StartGateway(t, chattest.NATS(t), gateway.Config{ID: "gw-wake", PingInterval: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	pings := make(chan struct{}, 16)
	ws, _, err := websocket.Dial(ctx, g.URL()+"?user=zed&session=z1", &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pings <- struct{}{}:
			default:
			}
			return true // and coder/websocket answers it
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	got := make(chan string, 16)
	go func() { // reading answers pings; every frame read goes to got
		defer close(got)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			got <- string(data)
		}
	}()
	expect := func(want string) {
		t.Helper()
		for {
			select {
			case f, ok := <-got:
				if !ok {
					t.Fatalf("connection ended before %s", want)
				}
				if strings.Contains(f, want) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s: %v", want, ctx.Err())
			}
		}
	}
	expect(`"type":"welcome"`)
	for range 3 { // three pings: the first two pongs came back through a waiting reader
		select {
		case <-pings:
		case <-ctx.Done():
			t.Fatal("fewer than three pings came")
		}
	}
	waitIdle(t, 1)

	cmd := []byte(`{"type":"users","ref":"in-two-frames"}`)
	w, err := ws.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(cmd[:10]); err != nil { // a frame without FIN
		t.Fatal(err)
	}
	if readerStops {
		// The reader has the first frame and waits for more.
		if poll.Until(ctx, 10*time.Millisecond, func() bool { return connGoroutines().inMessage == 1 }) != nil {
			t.Fatalf("the reader never waited inside the message:\n%s", connGoroutines().dump)
		}
	}
	if _, err := w.Write(cmd[10:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // the final frame
		t.Fatal(err)
	}
	expect(`"ref":"in-two-frames"`)
	waitIdle(t, 1)
	if n := metricValue(t, g, "chat_connections"); n != 1 {
		t.Fatalf("%v connections open, want 1", n)
	}
}
