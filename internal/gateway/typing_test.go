package gateway_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestTyping: a burst of typing commands is one notice per 2 s per user and room (counted
// on NATS, where the sending gateway publishes), delivered to the other members on both
// gateways, never to the typer's own sessions; a non-member is refused.
func TestTyping(t *testing.T) {
	clock := &fakeClock{}
	clock.ns.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	g1, g2, ns := gw2(t, gateway.Config{Now: clock.now})
	a1, a2 := connect(t, g1, "alice", "a1"), connect(t, g2, "alice", "a2")
	b, c := connect(t, g2, "bob", "b1"), connect(t, g1, "carol", "c1")
	d := connect(t, g1, "dave", "d1")
	for _, cl := range []*chattest.Client{a1, a2, b, c} {
		join(t, cl, "lobby")
	}
	join(t, d, "elsewhere")

	// Everything on the room's typing and live subjects, in the order NATS delivers it to
	// one subscriber: a notice published before a message is seen before it.
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	seen := make(chan *nats.Msg, 1024)
	for _, subj := range []string{subject.Typing("lobby"), subject.Live("lobby")} {
		if _, err := nc.ChanSubscribe(subj, seen); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// burst sends n typing commands, then a message (after them on the gateway's NATS
	// connection), and counts the typing notices NATS carried before the message.
	burst := func(n int) int {
		t.Helper()
		for range n {
			a1.Send(map[string]any{"type": "typing", "chatroomId": "lobby"})
		}
		ack := post(t, a1, "lobby", "sync")
		notices := 0
		for {
			select {
			case m := <-seen:
				if m.Subject == subject.Typing("lobby") {
					notices++
					if string(m.Data) != `{"type":"typing","chatroomId":"lobby","userId":"alice"}` {
						t.Fatalf("notice %s", m.Data)
					}
					continue
				}
				if m.Header.Get(nats.JSSequence) == itoa(ack.ID) {
					return notices
				}
			case <-time.After(chattest.Timeout):
				t.Fatal("the message never came live")
			}
		}
	}
	if n := burst(50); n != 1 {
		t.Fatalf("a burst of 50 made %d notices, want 1", n)
	}
	clock.advance(1900 * time.Millisecond)
	if n := burst(20); n != 0 {
		t.Fatalf("1.9 s later: %d notices, want 0", n)
	}
	clock.advance(100 * time.Millisecond)
	if n := burst(20); n != 1 {
		t.Fatalf("2 s after the first: %d notices, want 1", n)
	}

	// The other members got two notices, on both gateways; alice's sessions none. Once
	// bob (carol) has his second, anything for alice's session on gw-2 (gw-1) is queued.
	for _, cl := range []*chattest.Client{b, c} {
		for range 2 {
			m := cl.Until("typing", nil)
			if m.UserID != "alice" || m.ChatroomID != "lobby" || m.ID != 0 {
				t.Fatalf("typing notice %s", m.Raw)
			}
		}
	}
	for _, cl := range []*chattest.Client{a1, a2} {
		for _, m := range upto(t, cl) {
			if m.Type == "typing" {
				t.Fatalf("the typer's own session got %s", m.Raw)
			}
		}
	}
	// NATS carried no more than two (above); nor did a gateway make any of its own.
	for _, cl := range []*chattest.Client{b, c} {
		for _, m := range upto(t, cl) {
			if m.Type == "typing" {
				t.Fatalf("a third notice: %s", m.Raw)
			}
		}
	}

	doErr(t, d, "not_member", map[string]any{"type": "typing", "chatroomId": "lobby"})
	doErr(t, d, "not_member", map[string]any{"type": "typing", "chatroomId": "nowhere"})
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
