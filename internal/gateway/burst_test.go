package gateway_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/poll"
	"github.com/coder/websocket"
)

const (
	burstN       = 20_000
	burstReaders = 5
	burstPubs    = 4   // publishers, each pipelining burstN/burstPubs messages
	burstPad     = 400 // text in each message: the burst is about 10 MB
	// The send buffer of the slow reader's socket on the gateway and the receive buffer of
	// its own: what its sockets hold is then a small part of the burst on any machine. Left
	// to the kernel they grow as its settings allow, to more than the whole burst on some.
	slowBuffer = 32 << 10
)

// burstReader follows the burst in one connection's reading goroutine: message i of a
// publisher must be the i-th it sees of that publisher, with a growing id. Nothing is kept.
type burstReader struct {
	o      chatclient.Object
	joined chan struct{}
	all    chan struct{} // closed at the last message
	n      int           // messages seen
	next   [burstPubs]int
	last   uint64
	err    error // the first disorder
	once   sync.Once
}

func newBurstReader() *burstReader {
	return &burstReader{joined: make(chan struct{}), all: make(chan struct{})}
}

func (r *burstReader) onLine(line []byte) {
	if chatclient.Scan(line, &r.o) != nil || !r.o.HasID {
		if string(r.o.Type) == "joined" {
			r.once.Do(func() { close(r.joined) })
		}
		return
	}
	id, text := r.o.ID, r.o.Message
	if text == nil || r.err != nil {
		return // a presence event, or already wrong
	}
	// "m-P-IIIII ...": publisher P's message I.
	p, i := int(text[2]-'0'), 0
	if len(text) >= 9 {
		i, _ = strconv.Atoi(string(text[4:9]))
	}
	switch {
	case p < 0 || p >= burstPubs || i != r.next[p]:
		r.err = fmt.Errorf("message %s arrived after %v", text[:min(len(text), 9)], r.next)
		return
	case id <= r.last:
		r.err = fmt.Errorf("id %d after %d", id, r.last)
	}
	r.next[p]++
	r.n++
	r.last = id
	if r.n == burstN {
		close(r.all)
	}
}

// A burst of 20,000 messages into one room: every reader that reads receives all of them in
// order; a reader that stops reading is cut without slowing the others, and the gateway's
// memory stays bounded.
func TestBurstReachesEveryReaderThatKeepsUp(t *testing.T) {
	start := time.Now()
	ns := chattest.NATS(t)
	// No pings within the test: the slow reader, which answers none, is to be cut for being
	// slow, not as a dead peer.
	g := chattest.StartGateway(t, ns, gateway.Config{WriteTimeout: 2 * time.Second, PingInterval: time.Hour})
	// A guard against a hang, not a bound on speed: under -race on two busy cores the burst
	// has taken from 10 s to more than 90 s.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	readers := make([]*burstReader, burstReaders)
	conns := make([]*chatclient.Conn, burstReaders)
	for i := range readers {
		readers[i] = newBurstReader()
		c, err := dialLines(ctx, g.URL(), fmt.Sprint("reader", i), "s", readers[i].onLine)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Cut() })
		conns[i] = c
		joinAndWait(t, ctx, c, readers[i].joined)
	}
	// The slow reader reads its joined reply, then stops reading until released. It comes
	// through a listener of the same gateway whose sockets have a small send buffer.
	slow := newBurstReader()
	release := make(chan struct{})
	var slowStopped atomic.Bool
	sc, err := dialLinesReadBuffer(ctx, g.ListenSendBuffer(t, slowBuffer), "slow", "s", slowBuffer, func(line []byte) {
		slow.onLine(line)
		if !slowStopped.Load() && string(slow.o.Type) == "joined" {
			slowStopped.Store(true)
			<-release
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Cut() })
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	joinAndWait(t, ctx, sc, slow.joined)

	// The publishers pipeline every message, then wait for the acks.
	pubs := make([]*burstPublisher, burstPubs)
	for i := range pubs {
		pubs[i] = startBurstPublisher(t, ctx, g.URL(), i)
	}

	base := heapInuse()
	peak := sampleHeap(t)
	published := time.Now()
	errc := make(chan error, burstPubs)
	for _, p := range pubs {
		go func() { errc <- p.publish(ctx) }()
	}
	for range pubs {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	stored := time.Since(published)
	for i, r := range readers {
		select {
		case <-r.all:
		case <-conns[i].Done():
			t.Fatalf("reader %d ended after %d messages: %v", i, r.n, conns[i].Err())
		case <-ctx.Done():
			t.Fatalf("reader %d has %d of %d (err %v)", i, r.n, burstN, r.err)
		}
		if r.err != nil {
			t.Errorf("reader %d: %v", i, r.err)
		}
		if r.n != burstN {
			t.Errorf("reader %d: %d messages, want %d", i, r.n, burstN)
		}
	}
	delivered := time.Since(published)
	peakHeap := peak()

	// The slow reader: cut (4000, or its connection simply ends) long before the end. It is
	// released only once the gateway has cut it: its writer blocked early in the burst, and
	// the write timeout ends that write unless its queue overflowed first; releasing it as
	// soon as the readers are done would let it read on whenever they finish sooner.
	waitMetric(t, ctx, g.HTTP(), "chat_slow_consumer_closes_total", 1)
	close(release)
	if err := waitEnd(sc, chattest.Timeout); err != nil && websocket.CloseStatus(err) == -1 && !isCut(err) {
		t.Errorf("slow reader: %v", err)
	}
	code := sc.CloseCode()
	if slow.n >= burstN {
		t.Errorf("slow reader received all %d messages: it was never cut", slow.n)
	}
	if code != 4000 && code != -1 {
		t.Errorf("slow reader closed with %d, want 4000 or a cut", code)
	}
	if n := metric(t, g.HTTP(), "chat_slow_consumer_closes_total"); n != 1 {
		t.Errorf("chat_slow_consumer_closes_total = %v, want 1", n)
	}

	after := heapInuse()
	t.Logf("20,000 messages: stored in %v, delivered to %d readers in %v; slow reader got %d and ended with %d (%v); heap in use %d MB before, %d MB peak, %d MB after; total %v",
		stored.Round(time.Millisecond), burstReaders, delivered.Round(time.Millisecond), slow.n, code, sc.Err(),
		base>>20, peakHeap>>20, after>>20, time.Since(start).Round(time.Millisecond))
	if peakHeap > 200<<20 {
		t.Errorf("heap in use peaked at %d MB, want < 200 MB", peakHeap>>20)
	}
	if after > base+64<<20 {
		t.Errorf("heap in use %d MB after the burst, %d MB before", after>>20, base>>20)
	}
}

// burstPublisher pipelines its share of the burst on its own connection and counts acks.
type burstPublisher struct {
	i     int
	c     *chatclient.Conn
	acks  atomic.Int64
	acked chan struct{}
	err   atomic.Value // the first error reply
}

const burstShare = burstN / burstPubs

func startBurstPublisher(t *testing.T, ctx context.Context, wsURL string, i int) *burstPublisher {
	p := &burstPublisher{i: i, acked: make(chan struct{})}
	joined := make(chan struct{})
	var o chatclient.Object
	c, err := dialLines(ctx, wsURL, fmt.Sprint("publisher", i), "s", func(line []byte) {
		chatclient.Scan(line, &o)
		switch string(o.Type) {
		case "joined":
			close(joined)
		case "ack":
			if p.acks.Add(1) == burstShare {
				close(p.acked)
			}
		case "error":
			p.err.CompareAndSwap(nil, string(line))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Cut() })
	p.c = c
	joinAndWait(t, ctx, c, joined)
	return p
}

// publish writes every message of its share without waiting, then waits for the acks.
func (p *burstPublisher) publish(ctx context.Context) error {
	pad := strings.Repeat("x", burstPad)
	for i := range burstShare {
		msg := fmt.Sprintf(`{"type":"message","chatroomId":"burst","message":"m-%d-%05d %s","ref":"%d"}`, p.i, i, pad, i)
		if err := p.c.WS.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			return fmt.Errorf("publisher %d, message %d: %w (acks %d, reader: %v, error reply: %v)",
				p.i, i, err, p.acks.Load(), waitEnd(p.c, time.Second), p.err.Load())
		}
	}
	select {
	case <-p.acked:
	case <-p.c.Done():
		return fmt.Errorf("publisher %d: connection ended after %d acks: %v (%v)", p.i, p.acks.Load(), p.c.Err(), p.err.Load())
	case <-ctx.Done():
		return fmt.Errorf("publisher %d: %d acks of %d (%v)", p.i, p.acks.Load(), burstShare, p.err.Load())
	}
	if v := p.err.Load(); v != nil {
		return fmt.Errorf("publisher %d got an error reply: %v", p.i, v)
	}
	return nil
}

// isCut reports whether err is a connection that ended without a close frame.
func isCut(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "use of closed")
}

func joinAndWait(t *testing.T, ctx context.Context, c *chatclient.Conn, joined chan struct{}) {
	t.Helper()
	if err := c.Send(ctx, map[string]any{"type": "join", "chatroomId": "burst"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-joined:
	case <-c.Done():
		t.Fatalf("connection ended before joined: %v", c.Err())
	case <-ctx.Done():
		t.Fatal("no joined reply")
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// sampleHeap records the peak of HeapInuse every 50ms until the returned func is called,
// which returns the peak.
func sampleHeap(t *testing.T) func() uint64 {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	var peak uint64
	get := func() uint64 {
		once.Do(func() { close(stop); peak = <-done })
		return peak
	}
	t.Cleanup(func() { get() })
	return get
}

// waitMetric polls an unlabelled metric of the gateway until it is at least want, failing
// the test when ctx ends first.
func waitMetric(t testing.TB, ctx context.Context, base, name string, want float64) {
	t.Helper()
	var v float64
	if err := poll.Until(ctx, 20*time.Millisecond, func() bool {
		v = metric(t, base, name)
		return v >= want
	}); err != nil {
		t.Fatalf("%s = %v, want %v: %v", name, v, want, err)
	}
}

// dialLinesReadBuffer is dialLines with the client socket's receive buffer set to rcvbuf bytes.
func dialLinesReadBuffer(ctx context.Context, wsURL, user, session string, rcvbuf int, onLine func([]byte)) (*chatclient.Conn, error) {
	conn, _, err := chattest.DialRaw(ctx, wsURL, url.Values{"user": {user}, "session": {session}}, nil, rcvbuf)
	if err != nil {
		return nil, err
	}
	return chatclient.Wrap(conn, chatclient.Options{OnLine: onLine}), nil
}

// metric reads one unlabelled metric from the gateway's /metrics.
func metric(t testing.TB, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
