package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/poll"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// hostileRSSBound is the most resident memory the gateway process (NATS runs apart) may
// reach during the hostile soak. What the attacks can pin is bounded by design: each
// non-reading session holds at most one reply beyond a quarter of --send-budget (its
// commands are not read meanwhile, and a write stalled for --write-timeout cuts it), and
// GET /history holds at most --history-reads replies, each for at most 10 s. With replies
// of the big room (about 24 MB each) that is (4 WebSocket hogs + 8 HTTP reads) x 24 MB,
// about 290 MB live, which the collector's headroom (GOGC=100) may double. Before these
// bounds, 40 history commands on one connection took the heap past 1.2 GB in 6 s, and
// the hogs here were unbounded.
const hostileRSSBound = 768 << 20

// hostileMemLimit is the gateway's GOMEMLIMIT in the soak.
const hostileMemLimit = 512 << 20

// TestHostileSoak runs one gateway process with its default limits (open mode, NATS in a
// process of its own) under well-behaved chat and, at the same time, clients doing what
// issue 10 found: history replies requested and never read, over WebSocket and HTTP;
// connect-close storms; rooms made by the hundred; private rooms opened with one victim by
// many users; message floods; malformed and oversized frames; arbitrary close codes. The
// well-behaved clients must receive every event of their rooms once and in order, lose no
// acknowledged message and never be cut; the gateway's RSS stays under hostileRSSBound; the
// victim can still join the lobby. HOSTILE_DURATION sets how long the attacks last (make
// soak-hostile DURATION=10m); make test runs 20 s.
func TestHostileSoak(t *testing.T) {
	d := 20 * time.Second
	if s := os.Getenv("HOSTILE_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("HOSTILE_DURATION=%q: %v", s, err)
		}
	}
	bins, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	dir := testDir(t)
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	nats := &Proc{Name: "nats", Bin: bins.NATSEmbed, LogPath: filepath.Join(dir, "nats.log"),
		Args: []string{"--addr", "127.0.0.1:" + strconv.Itoa(ports[0]), "--store-dir", filepath.Join(dir, "nats")}}
	if err := nats.Start(); err != nil {
		t.Fatal(err)
	}
	defer nats.Kill()
	if err := poll.UntilNil(t.Context(), 30*time.Second, 20*time.Millisecond, func() error { return dialOK(ports[0]) }); err != nil {
		t.Fatalf("NATS not listening: %v\n%s", err, nats.Tail(20))
	}
	gw := &Proc{Name: "gateway", Bin: bins.Gateway, LogPath: filepath.Join(dir, "gateway.log"),
		Args: []string{"--addr", "127.0.0.1:" + strconv.Itoa(ports[1]), "--gateway-id", "gw-hostile",
			"--nats-url", "nats://127.0.0.1:" + strconv.Itoa(ports[0]), "--data-dir", filepath.Join(dir, "gw"),
			"--log-level", "warn"},
		// As docs/operations.md advises: a soft memory limit under what the gateway may use,
		// so that the collector works harder before the heap's headroom becomes RSS.
		Env: []string{"GOMEMLIMIT=" + strconv.Itoa(hostileMemLimit>>20) + "MiB"}}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	defer gw.Kill()
	base := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	ws := "ws://127.0.0.1:" + strconv.Itoa(ports[1]) + "/ws"
	if err := poll.UntilNil(t.Context(), 60*time.Second, 50*time.Millisecond, func() error { return httpOK(base + "/readyz") }); err != nil {
		t.Fatalf("gateway not ready: %v\n%s", err, gw.Tail(20))
	}
	fillBigRoom(t, ws)

	l, err := StartLoad(LoadConfig{URL: ws, HTTP: base, Clients: 40, Rooms: 4, Prefix: "calm", Rate: 4}, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	l.SetPublishing(true)
	steady(t, l, 20)

	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	var counts sync.Map // attack → *atomic.Int64
	count := func(what string) {
		v, _ := counts.LoadOrStore(what, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	attack := func(n int, fn func(ctx context.Context, i int, count func(string))) {
		for i := range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					fn(ctx, i, count)
				}
			})
		}
	}
	attack(4, func(ctx context.Context, i int, count func(string)) { historyHog(ctx, ws, i, count) })
	attack(2, func(ctx context.Context, i int, count func(string)) { httpHistoryHog(ctx, ports[1], count) })
	attack(2, func(ctx context.Context, i int, count func(string)) { flap(ctx, ws, fmt.Sprint("flapper", i), count) })
	attack(2, func(ctx context.Context, i int, count func(string)) {
		makeRooms(ctx, ws, fmt.Sprint("maker", i), count)
	})
	attack(1, func(ctx context.Context, i int, count func(string)) { privateSpam(ctx, ws, count) })
	attack(2, func(ctx context.Context, i int, count func(string)) { flood(ctx, ws, fmt.Sprint("flooder", i), count) })
	attack(1, func(ctx context.Context, i int, count func(string)) { garbage(ctx, ws, count) })
	victim, _, err := chattest.DialRaw(context.Background(), ws, url.Values{"user": {"victim"}}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.CloseNow()
	victimFrames := drain(victim)

	var maxRSS atomic.Int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		lastLog := time.Now()
		for {
			rss, err := gw.RSS()
			if err == nil && rss > maxRSS.Load() {
				maxRSS.Store(rss)
			}
			if time.Since(lastLog) >= 30*time.Second { // the trend, on a long soak
				t.Logf("gateway RSS now %d MiB, at most %d MiB so far", rss>>20, maxRSS.Load()>>20)
				lastLog = time.Now()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	<-ctx.Done()
	wg.Wait()
	<-sampled

	var summary []string
	counts.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("attacks over %v: %s", d, strings.Join(summary, " "))
	t.Logf("gateway RSS at most %d MiB (bound %d MiB); victim received %d frames", maxRSS.Load()>>20, hostileRSSBound>>20, victimFrames.Load())
	if maxRSS.Load() > hostileRSSBound {
		t.Errorf("gateway RSS reached %d MiB, over the bound of %d MiB", maxRSS.Load()>>20, hostileRSSBound>>20)
	}
	if !gw.Running() {
		t.Fatalf("the gateway died:\n%s", gw.Tail(30))
	}
	// The victim of the private-room spam can still join the lobby.
	jctx, jcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer jcancel()
	lobby, _, err := chattest.DialRaw(jctx, ws, url.Values{"user": {"victim"}, "session": {"second"}}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lobby.CloseNow()
	if f := request(jctx, lobby, map[string]any{"type": "join", "chatroomId": "lobby", "ref": "j"}, "j"); f != "joined" {
		t.Errorf("the victim's join of the lobby after the attacks: %s", f)
	}
	finish(t, l)
}

// dialOK reports whether something listens on the loopback port.
func dialOK(port int) error {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err == nil {
		c.Close()
	}
	return err
}

// fillBigRoom stores 1,000 messages in room "big" whose text JSON escapes to 6 bytes a
// character (about 24 KB an event as sent): a history of it is megabytes.
func fillBigRoom(t *testing.T, ws string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	text := "x" + strings.Repeat("\x01", 3990)
	var failed atomic.Int64
	// One filler at a time: a filler reads only while it waits for its acks, and others'
	// big events arriving meanwhile would rightly get it cut as a slow reader.
	for u := range 50 { // 20 messages each: within the default burst of one user
		func() {
			c, _, err := chattest.DialRaw(ctx, ws, url.Values{"user": {fmt.Sprint("filler", u)}}, nil, 0)
			if err != nil {
				failed.Add(1)
				return
			}
			defer c.CloseNow()
			if request(ctx, c, map[string]any{"type": "join", "chatroomId": "big", "ref": "j"}, "j") != "joined" {
				failed.Add(1)
				return
			}
			for i := range 20 {
				ref := fmt.Sprint("f", i)
				// Sent again with the same ref while the stream is slow to answer, as the
				// protocol asks: stored once.
				for r := ""; r != "ack"; {
					if r = request(ctx, c, map[string]any{"type": "message", "chatroomId": "big", "message": text, "ref": ref}, ref); r != "ack" && r != "error/unavailable" {
						failed.Add(1)
						t.Logf("filler%d %s: %s", u, ref, r)
						return
					}
				}
			}
			c.Close(websocket.StatusNormalClosure, "")
		}()
	}
	if n := failed.Load(); n > 0 {
		t.Fatalf("filling the big room: %d failures", n)
	}
}

// request sends cmd and reads until the object carrying ref, returning its type (or
// type/code for an error, or what went wrong).
func request(ctx context.Context, c *websocket.Conn, cmd map[string]any, ref string) string {
	if err := wsjson.Write(ctx, c, cmd); err != nil {
		return err.Error()
	}
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return err.Error()
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if !strings.Contains(line, `"ref":"`+ref+`"`) {
				continue
			}
			typ := field(line, "type")
			if typ == "error" {
				return typ + "/" + field(line, "code")
			}
			return typ
		}
	}
}

// field pulls a string field out of one JSON object without decoding it all.
func field(line, name string) string {
	_, rest, ok := strings.Cut(line, `"`+name+`":"`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// drain reads c until it closes, counting frames.
func drain(c *websocket.Conn) *atomic.Int64 {
	var n atomic.Int64
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	return &n
}

// historyHog asks for the big room's 1,000 events 40 times and reads nothing for 5 s.
func historyHog(ctx context.Context, ws string, i int, count func(string)) {
	c, _, err := chattest.DialRaw(ctx, ws, url.Values{"user": {fmt.Sprint("hog", i)}}, nil, 4096)
	if err != nil {
		count("hog-refused")
		return
	}
	defer c.CloseNow()
	for range 40 {
		if wsjson.Write(ctx, c, map[string]any{"type": "history", "chatroomId": "big", "limit": 1000}) != nil {
			break
		}
	}
	count("hog")
	hold(ctx, 5*time.Second)
}

// httpHistoryHog opens 20 HTTP connections asking for the big room's history and reads
// none of it, for 5 s.
func httpHistoryHog(ctx context.Context, port int, count func(string)) {
	var conns []net.Conn
	for range 20 {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			count("http-hog-refused")
			continue
		}
		c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /history?chatroomId=big&limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		conns = append(conns, c)
	}
	count("http-hog")
	hold(ctx, 5*time.Second)
	for _, c := range conns {
		c.Close()
	}
}

// flap connects and closes as one user as fast as it can.
func flap(ctx context.Context, ws, user string, count func(string)) {
	c, _, err := chattest.DialRaw(ctx, ws, url.Values{"user": {user}}, nil, 0)
	if err != nil {
		count("flap-refused")
		return
	}
	_, data, err := c.Read(ctx)
	if err == nil && strings.Contains(string(data), "rate_limited") {
		count("flap-limited")
	} else {
		count("flap")
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// makeRooms joins and leaves new rooms, one after another.
func makeRooms(ctx context.Context, ws, user string, count func(string)) {
	c, _, err := chattest.DialRaw(ctx, ws, url.Values{"user": {user}, "session": {"s"}}, nil, 0)
	if err != nil {
		count("maker-refused")
		return
	}
	defer c.CloseNow()
	for i := 0; ctx.Err() == nil && i < 1000; i++ {
		room := fmt.Sprintf("%s-%d-%d", user, time.Now().UnixNano(), i)
		switch r := request(ctx, c, map[string]any{"type": "join", "chatroomId": room, "ref": "j"}, "j"); r {
		case "joined":
			count("room-made")
			request(ctx, c, map[string]any{"type": "leave", "chatroomId": room, "ref": "l"}, "l")
		case "error/rate_limited":
			count("room-limited")
			hold(ctx, 200*time.Millisecond)
		default:
			count("room-" + r)
			return
		}
	}
}

// privateSpam opens a private room with the victim as a new user each time.
func privateSpam(ctx context.Context, ws string, count func(string)) {
	user := fmt.Sprintf("spam%d", rand.IntN(1_000_000))
	c, _, err := chattest.DialRaw(ctx, ws, url.Values{"user": {user}}, nil, 0)
	if err != nil {
		count("spam-refused")
		return
	}
	defer c.CloseNow()
	count("private-" + request(ctx, c, map[string]any{"type": "private", "userId": "victim", "ref": "p"}, "p"))
	c.Close(websocket.StatusNormalClosure, "")
}

// flood posts to a room of its own as fast as the socket takes it, reading everything.
func flood(ctx context.Context, ws, user string, count func(string)) {
	c, _, err := chattest.DialRaw(ctx, ws, url.Values{"user": {user}}, nil, 0)
	if err != nil {
		count("flood-refused")
		return
	}
	defer c.CloseNow()
	drain(c)
	if wsjson.Write(ctx, c, map[string]any{"type": "join", "chatroomId": "flood"}) != nil {
		return
	}
	for i := 0; ctx.Err() == nil; i++ {
		if wsjson.Write(ctx, c, map[string]any{"type": "message", "chatroomId": "flood", "message": "spam", "ref": strconv.Itoa(i)}) != nil {
			count("flood-cut")
			return
		}
		count("flood-sent")
	}
}

// garbage sends frames the protocol refuses, and closes with arbitrary codes.
func garbage(ctx context.Context, ws string, count func(string)) {
	c, _, err := chattest.DialRaw(ctx, ws, url.Values{"user": {"garbage"}}, nil, 0)
	if err != nil {
		count("garbage-refused")
		return
	}
	defer c.CloseNow()
	drain(c)
	frames := []string{`{`, `[]`, `{"type":"nope"}`, `{"type":"join","chatroomId":"a.b"}`, "\xff\xfe",
		`{"type":"message","chatroomId":"lobby","message":""}`, `{"type":"join"}{"type":"join"}`}
	for _, f := range frames {
		if c.Write(ctx, websocket.MessageText, []byte(f)) != nil {
			return
		}
	}
	c.Write(ctx, websocket.MessageBinary, []byte("binary"))
	if rand.IntN(4) == 0 {
		c.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 70_000))) // closes with 1009
	}
	count("garbage")
	c.Close(websocket.StatusCode(3000+rand.IntN(1999)), "")
}

// hold waits for d or the end of ctx.
func hold(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// RSS is the process's resident memory in bytes, from /proc.
func (p *Proc) RSS() (int64, error) {
	if !p.Running() {
		return 0, fmt.Errorf("clustertest: %s does not run", p.Name)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("clustertest: no VmRSS for %s", p.Name)
}
