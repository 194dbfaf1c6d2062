package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
)

// storeOf opens the event stream of ns, the way a gateway does, to check what it holds.
func storeOf(t testing.TB, ns *server.Server) *history.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := history.Open(ctx, natstest.JetStream(t, ns), history.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// storedIDs returns the ids of every stored event of room, oldest first.
func storedIDs(t testing.TB, st *history.Store, room string) []uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []uint64
	var since uint64
	for {
		evs, more, err := st.After(ctx, room, since, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			out = append(out, ev.ID)
			since = ev.ID
		}
		if !more {
			return out
		}
	}
}

// after returns the ids of all above id, in order.
func after(all []uint64, id uint64) []uint64 {
	i, _ := slices.BinarySearch(all, id+1)
	return slices.Clone(all[i:])
}

// idsOf returns the ids of the events among msgs.
func idsOf(msgs []chattest.Msg) []uint64 {
	var out []uint64
	for _, m := range msgs {
		if m.ID != 0 {
			out = append(out, m.ID)
		}
	}
	return out
}

// contiguous checks that got is a run of consecutive elements of all: strictly increasing,
// no hole, no duplicate.
func contiguous(all, got []uint64) error {
	if len(got) == 0 {
		return nil
	}
	i, ok := slices.BinarySearch(all, got[0])
	if !ok {
		return fmt.Errorf("id %d is not a stored event of the room", got[0])
	}
	for k, id := range got {
		switch {
		case i+k >= len(all):
			return fmt.Errorf("id %d (#%d) after the room's last stored event %d", id, k, all[len(all)-1])
		case all[i+k] != id:
			return fmt.Errorf("#%d: got id %d, want %d (previous %d)", k, id, all[i+k], got[max(k-1, 0)])
		}
	}
	return nil
}

// ws is a raw client for goroutines, where chattest.Client (which fails the test from its
// calls) cannot be used: every call returns an error instead, and every object the gateway
// sends is handed to a callback on the reading goroutine without being kept.
type ws struct {
	conn *websocket.Conn
	done chan struct{}
	err  error // why reading ended; set before done closes
}

// dialWS connects user/session and, unless onLine is nil, reads every object into onLine
// on a goroutine of its own. With onLine nil the socket is never read.
func dialWS(ctx context.Context, wsURL, user, session string, onLine func([]byte)) (*ws, error) {
	q := url.Values{"user": {user}, "session": {session}}
	conn, _, err := websocket.Dial(ctx, wsURL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(-1)
	c := &ws{conn: conn, done: make(chan struct{})}
	if onLine != nil {
		go c.read(onLine)
	}
	return c, nil
}

func (c *ws) read(onLine func([]byte)) {
	defer close(c.done)
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			if len(line) > 0 {
				onLine(line)
			}
		}
	}
}

func (c *ws) send(ctx context.Context, cmd any) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// wait waits for the reader to end (after close) within d.
func (c *ws) wait(d time.Duration) error {
	select {
	case <-c.done:
		return c.err
	case <-time.After(d):
		return fmt.Errorf("still reading after %v", d)
	}
}

// lineID returns the "id" of an event line, 0 for anything else: the gateway writes an
// event's id as its first field.
func lineID(line []byte) uint64 {
	const pre = `{"id":`
	if !bytes.HasPrefix(line, []byte(pre)) {
		return 0
	}
	i := len(pre)
	var id uint64
	for ; i < len(line) && line[i] >= '0' && line[i] <= '9'; i++ {
		id = id*10 + uint64(line[i]-'0')
	}
	return id
}

// field returns the string value of "key":"..." in line (no escapes expected), or nil.
func field(line []byte, key string) []byte {
	pre := []byte(`"` + key + `":"`)
	i := bytes.Index(line, pre)
	if i < 0 {
		return nil
	}
	rest := line[i+len(pre):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return nil
}

// poster posts numbered messages to a room from a goroutine, with at most window
// unacknowledged, until stopped; it records the id of every ack.
type poster struct {
	c      *ws
	room   string
	mu     sync.Mutex
	acked  []uint64
	failed error
	ackc   chan struct{} // one token per ack, read by run
	stop   chan struct{}
	ended  chan struct{}
	joined chan struct{}
}

// startPoster connects user to the gateway at wsURL, joins room and posts until stop.
func startPoster(t testing.TB, wsURL, user, room string, window int) *poster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	p := &poster{room: room, ackc: make(chan struct{}, window+1), stop: make(chan struct{}),
		ended: make(chan struct{}), joined: make(chan struct{})}
	c, err := dialWS(ctx, wsURL, user, user+"-s", p.onLine)
	if err != nil {
		t.Fatal(err)
	}
	p.c = c
	t.Cleanup(func() { c.conn.CloseNow() })
	if err := c.send(ctx, map[string]any{"type": "join", "chatroomId": room}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.joined:
	case <-c.done:
		t.Fatalf("poster: connection ended: %v", c.err)
	case <-ctx.Done():
		t.Fatal("poster: no joined reply")
	}
	go p.run(window)
	return p
}

func (p *poster) onLine(line []byte) {
	switch string(field(line, "type")) {
	case "joined":
		close(p.joined)
	case "ack":
		var a struct{ ID uint64 }
		json.Unmarshal(line, &a)
		p.mu.Lock()
		p.acked = append(p.acked, a.ID)
		p.mu.Unlock()
		p.ackc <- struct{}{}
	case "error":
		p.mu.Lock()
		p.failed = fmt.Errorf("poster got %s", line)
		p.mu.Unlock()
		p.ackc <- struct{}{}
	}
}

func (p *poster) run(window int) {
	defer close(p.ended)
	outstanding := 0
	for i := 0; ; i++ {
		for outstanding >= window {
			if !p.waitAck() {
				return
			}
			outstanding--
		}
		select {
		case <-p.stop:
			for ; outstanding > 0; outstanding-- {
				if !p.waitAck() {
					return
				}
			}
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		err := p.c.send(ctx, map[string]any{"type": "message", "chatroomId": p.room,
			"message": "p-" + strconv.Itoa(i), "ref": strconv.Itoa(i)})
		cancel()
		if err != nil {
			p.fail(err)
			return
		}
		outstanding++
	}
}

func (p *poster) waitAck() bool {
	select {
	case <-p.ackc:
		return true
	case <-p.c.done:
		p.fail(fmt.Errorf("poster connection ended: %v", p.c.err))
	case <-time.After(chattest.Timeout):
		p.fail(fmt.Errorf("poster: no ack within %v", chattest.Timeout))
	}
	return false
}

func (p *poster) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed == nil {
		p.failed = err
	}
}

// count is how many posts have been acknowledged so far.
func (p *poster) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// waitCount waits until at least n posts are acknowledged.
func (p *poster) waitCount(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for p.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("poster: %d acks, want %d", p.count(), n)
		}
		select {
		case <-p.ended:
			t.Fatalf("poster ended: %v", p.failed)
		case <-time.After(time.Millisecond):
		}
	}
}

// finish stops posting, waits for the outstanding acks and returns every acked id.
func (p *poster) finish(t testing.TB) []uint64 {
	t.Helper()
	close(p.stop)
	select {
	case <-p.ended:
	case <-time.After(2 * chattest.Timeout):
		t.Fatal("poster did not stop")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed != nil {
		t.Fatal(p.failed)
	}
	return slices.Clone(p.acked)
}
