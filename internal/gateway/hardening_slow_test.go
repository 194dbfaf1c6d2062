package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// Slow clients: 1,000 sessions in 10 rooms, of which 100 stop reading, must not slow the
// delivery to the 900 others, are closed, and leave the gateway's memory bounded.

const (
	slowRooms   = 10
	slowReaders = 900 // 90 a room
	slowStalled = 100 // each in two rooms
	slowBurst   = 200 // messages a room per burst: 2,000 a burst
)

// counter is a raw connection whose goroutine reads everything and counts the stored
// message events (lines starting {"id": of type message) and the acks.
type counter struct {
	ws      *websocket.Conn
	msgs    atomic.Int64
	acks    atomic.Int64
	joined  chan string // room of each joined reply, for the set-up
	phase   atomic.Pointer[phase]
	stopped *atomic.Bool // set: stop reading after the next frame
	done    chan error
}

// phase is one burst: every counter signals wg once it has seen want messages.
type phase struct {
	want int64
	wg   *sync.WaitGroup
}

var (
	msgTag    = []byte(`"type":"message"`)
	ackTag    = []byte(`{"type":"ack"`)
	joinedTag = []byte(`{"type":"joined"`)
)

func dialCounter(ctx context.Context, g *chattest.Gateway, user, session string, rcvbuf int, stopped *atomic.Bool) (*counter, error) {
	ws, _, err := chattest.DialRaw(ctx, g.URL(), url.Values{"user": {user}, "session": {session}}, nil, rcvbuf)
	if err != nil {
		return nil, err
	}
	c := &counter{ws: ws, joined: make(chan string, slowRooms), stopped: stopped, done: make(chan error, 1)}
	go c.read()
	return c, nil
}

func (c *counter) read() {
	var signalled *phase
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.done <- err
			return
		}
		for line := range chatclient.Lines(data) {
			switch {
			case bytes.HasPrefix(line, []byte(`{"id":`)) && bytes.Contains(line, msgTag):
				c.msgs.Add(1)
			case bytes.HasPrefix(line, ackTag):
				c.acks.Add(1)
			case bytes.HasPrefix(line, joinedTag):
				var j struct {
					ChatroomID string `json:"chatroomId"`
				}
				json.Unmarshal(line, &j)
				c.joined <- j.ChatroomID
			}
		}
		if p := c.phase.Load(); p != nil && p != signalled && c.msgs.Load() >= p.want {
			signalled = p
			p.wg.Done()
		}
		if c.stopped != nil && c.stopped.Load() {
			c.done <- nil
			return
		}
	}
}

func (c *counter) send(ctx context.Context, cmd string) error {
	return c.ws.Write(ctx, websocket.MessageText, []byte(cmd))
}

// join joins rooms one after the other, each awaited.
func (c *counter) join(ctx context.Context, rooms ...string) error {
	for _, r := range rooms {
		if err := c.send(ctx, `{"type":"join","chatroomId":"`+r+`","limit":1}`); err != nil {
			return err
		}
		select {
		case got := <-c.joined:
			if got != r {
				return fmt.Errorf("joined %s, want %s", got, r)
			}
		case err := <-c.done:
			return fmt.Errorf("closed while joining %s: %v", r, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// parallel runs f(0..n-1) on a few goroutines and returns the first error.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	errc := make(chan error, 16)
	for range 16 {
		go func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					errc <- nil
					return
				}
				if err := f(i); err != nil {
					next.Store(int64(n))
					errc <- err
					return
				}
			}
		}()
	}
	var first error
	for range 16 {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// padding makes each event about 1 KB, so that a client that stopped reading fills its
// socket buffers within a burst.
var padding = strings.Repeat("lorem ipsum ", 80)

func roomName(i int) string { return fmt.Sprintf("room%d", i%slowRooms) }

// burst posts n messages in every room, one publisher a room, and returns the time
// until every reader has seen all of them.
func burst(t *testing.T, ctx context.Context, pubs, readers []*counter, text string, n int) time.Duration {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(len(readers))
	for _, r := range readers {
		r.phase.Store(&phase{want: r.msgs.Load() + int64(n), wg: &wg})
	}
	start := time.Now()
	if err := parallel(len(pubs), func(i int) error {
		for k := range n {
			cmd := fmt.Sprintf(`{"type":"message","chatroomId":"%s","message":"%s %d %d %s"}`, roomName(i), text, i, k, padding)
			if err := pubs[i].send(ctx, cmd); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	all := make(chan struct{})
	go func() { wg.Wait(); close(all) }()
	select {
	case <-all:
	case <-ctx.Done():
		var short int
		for _, r := range readers {
			if r.msgs.Load() < r.phase.Load().want {
				short++
				select {
				case err := <-r.done:
					t.Logf("a reader short of the burst: %d of %d, ended: %v", r.msgs.Load(), r.phase.Load().want, err)
				default:
					t.Logf("a reader short of the burst: %d of %d, still reading", r.msgs.Load(), r.phase.Load().want)
				}
			}
		}
		t.Fatalf("%d of %d readers did not get the burst", short, len(readers))
	}
	return time.Since(start)
}

// heap returns the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestSlowClientsDoNotSlowTheOthers(t *testing.T) {
	// Not parallel: it measures the process's heap, which a test running beside it (the
	// cluster-join test's 72 clients, each with a large queue) would grow.
	ns := chattest.NATS(t)
	// Small socket send buffers (64 KiB in the kernel's count) so that a client that stopped
	// reading fills them, and its queue, within one burst. WriteTimeout is the default: a
	// reading client on a busy machine can stall its socket for seconds, and is not to be cut.
	g := chattest.StartGatewaySendBuffer(t, ns, gateway.Config{ID: "gw-slow", WriteTimeout: 10 * time.Second}, 32<<10)
	// Generous: on a busy 2-core machine setting up 1,000 clients alone can take a minute.
	// Every wait is for a condition; the assertions compare rates within this run.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	setup := time.Now()
	readers := make([]*counter, slowReaders)
	if err := parallel(slowReaders, func(i int) error {
		c, err := dialCounter(ctx, g, fmt.Sprintf("u%d", i%100), fmt.Sprintf("r%d", i), 0, nil)
		if err != nil {
			return err
		}
		readers[i] = c
		t.Cleanup(func() { c.ws.CloseNow() })
		return c.join(ctx, roomName(i))
	}); err != nil {
		t.Fatal(err)
	}
	pubs := make([]*counter, slowRooms)
	if err := parallel(slowRooms, func(i int) error {
		c, err := dialCounter(ctx, g, fmt.Sprintf("pub%d", i), "p", 0, nil)
		if err != nil {
			return err
		}
		pubs[i] = c
		t.Cleanup(func() { c.ws.CloseNow() })
		return c.join(ctx, roomName(i))
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("set-up of %d readers and %d publishers: %v", slowReaders, slowRooms, time.Since(setup))
	base := heap()

	burst(t, ctx, pubs, readers, "warm-up", slowBurst/4) // rooms' feeds and windows warm
	// The rate without slow clients is the slower of two bursts: one noisy fast burst on a
	// shared machine must not make the comparison fail; a collapse still shows.
	alone := max(burst(t, ctx, pubs, readers, "alone", slowBurst), burst(t, ctx, pubs, readers, "alone2", slowBurst))
	perSecAlone := float64(slowReaders*slowBurst) / alone.Seconds()

	// The slow clients: joined to two rooms each, then they stop reading (after at most
	// one more frame).
	var stopped atomic.Bool
	slow := make([]*counter, slowStalled)
	if err := parallel(slowStalled, func(i int) error {
		c, err := dialCounter(ctx, g, fmt.Sprintf("slow%d", i), fmt.Sprintf("s%d", i), 0, &stopped)
		if err != nil {
			return err
		}
		slow[i] = c
		t.Cleanup(func() { c.ws.CloseNow() })
		return c.join(ctx, roomName(i), roomName(i+slowRooms/2))
	}); err != nil {
		t.Fatal(err)
	}
	stopped.Store(true)
	t.Logf("set-up of %d slow clients: %v", slowStalled, time.Since(setup))
	slowBefore := metricValue(t, g, "chat_slow_consumer_closes_total")

	var peak atomic.Uint64
	stopSampling, sampling := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampling)
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak.Store(max(peak.Load(), m.HeapAlloc))
			select {
			case <-time.After(50 * time.Millisecond):
			case <-stopSampling:
				return
			}
		}
	}()
	withSlow := burst(t, ctx, pubs, readers, "withslow", slowBurst)
	perSecSlow := float64(slowReaders*slowBurst) / withSlow.Seconds()

	// Every reader got every message, once.
	for i, r := range readers {
		if got, want := r.msgs.Load(), int64(3*slowBurst+slowBurst/4); got != want {
			t.Fatalf("reader %d: %d messages, want %d", i, got, want)
		}
	}

	// The slow ones are closed by the gateway: it counts only the readers and publishers.
	deadline := time.Now().Add(20 * time.Second)
	for n := metricValue(t, g, "chat_connections"); n != slowReaders+slowRooms; n = metricValue(t, g, "chat_connections") {
		if time.Now().After(deadline) {
			t.Fatalf("%v connections open, want %d: the slow ones were not closed", n, slowReaders+slowRooms)
		}
		<-time.After(100 * time.Millisecond)
	}
	t.Logf("slow ones closed by the gateway at %v", time.Since(setup))
	// And they end on the client's side too: with 4000, or cut.
	ends := make([]string, len(slow))
	if err := parallel(len(slow), func(i int) error {
		select {
		case <-slow[i].done: // its reader stopped
		case <-ctx.Done():
			return fmt.Errorf("slow client %d still reading", i)
		}
		ends[i] = drain(ctx, slow[i].ws)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	for _, e := range ends {
		codes[e]++
	}
	t.Logf("slow ones ended on the client's side at %v", time.Since(setup))
	if codes["open"] != 0 {
		t.Fatalf("slow clients still open: %v", codes)
	}
	slowAfter := metricValue(t, g, "chat_slow_consumer_closes_total")
	if slowAfter-slowBefore < 1 {
		t.Errorf("chat_slow_consumer_closes_total went from %v to %v", slowBefore, slowAfter)
	}
	close(stopSampling)
	<-sampling
	after := heap()

	t.Logf("burst of %d messages to %d readers: %v alone (%.0f deliveries/s), %v with %d slow clients (%.0f/s, ratio %.2f)",
		slowRooms*slowBurst, slowReaders, alone, perSecAlone, withSlow, slowStalled, perSecSlow, perSecSlow/perSecAlone)
	t.Logf("slow clients ended: %v; slow-consumer closes %v", codes, slowAfter-slowBefore)
	t.Logf("heap: %d MiB after set-up, peak %d MiB, %d MiB after the slow ones were closed",
		base>>20, peak.Load()>>20, after>>20)
	if perSecSlow < 0.5*perSecAlone {
		t.Errorf("delivery fell from %.0f/s to %.0f/s with slow clients", perSecAlone, perSecSlow)
	}
	// The peak counts garbage the collector has not reached yet, which grows when the machine
	// is busy; what the slow clients could pile up without bound shows in what stays after.
	if peak.Load() > base+768<<20 || after > base+64<<20 {
		t.Errorf("heap grew: %d MiB after set-up, peak %d MiB, after %d MiB", base>>20, peak.Load()>>20, after>>20)
	}
}

// drain reads a connection to its end and says how it ended: "4000", "cut" (no close
// frame), another close code, or "open" if it did not end.
func drain(ctx context.Context, ws *websocket.Conn) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			continue
		}
		switch code := websocket.CloseStatus(err); {
		case ctx.Err() != nil:
			return "open"
		case code == -1:
			return "cut"
		default:
			return fmt.Sprint(int(code))
		}
	}
}
