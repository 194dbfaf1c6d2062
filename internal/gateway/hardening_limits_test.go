package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// Frames over 64 KiB close the connection with 1009; one of exactly 64 KiB is a command.
func TestOversizedFramesClose1009(t *testing.T) {
	g := openGW(t, gateway.Limits{})
	frame := func(size int) []byte {
		head := `{"type":"message","chatroomId":"lobby","message":"`
		return []byte(head + strings.Repeat("x", size-len(head)-2) + `"}`)
	}
	c := openClient(t, g, "alice")
	c.SendRaw(frame(64 << 10))
	if got := c.Mark(); len(got) != 1 || got[0].Code != "too_large" {
		t.Fatalf("64 KiB frame: %v", got)
	}
	for _, size := range []int{64<<10 + 1, 1 << 20, 8 << 20} {
		c := openClient(t, g, "bob")
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		_ = c.WS.Write(ctx, websocket.MessageText, frame(size)) // may fail once the gateway has closed
		cancel()
		if got := c.Closed(); got != websocket.StatusMessageTooBig {
			t.Errorf("%d-byte frame: closed with %d, want 1009", size, got)
		}
	}
	if evs := storedRoom(t, g, "lobby"); len(evs) != 0 {
		t.Fatalf("stored: %v", evs)
	}
	c.Mark() // the first connection is unharmed
}

// send writes frames without waiting for their replies.
func sendAll(t *testing.T, c *chattest.Client, cmds []map[string]any) {
	t.Helper()
	for _, cmd := range cmds {
		c.Send(cmd)
	}
}

// replies collects the reply of each ref, skipping events.
func replies(t *testing.T, c *chattest.Client, refs []string) map[string]chattest.Msg {
	t.Helper()
	want := make(map[string]bool, len(refs))
	for _, r := range refs {
		want[r] = true
	}
	got := make(map[string]chattest.Msg, len(refs))
	for len(got) < len(refs) {
		m := c.Next()
		if want[m.Ref] {
			if _, dup := got[m.Ref]; dup {
				t.Fatalf("two replies to %s: %s", m.Ref, m.Raw)
			}
			got[m.Ref] = m
		}
	}
	return got
}

func byType(rs map[string]chattest.Msg) map[string]int {
	n := map[string]int{}
	for _, m := range rs {
		n[m.Type+"/"+m.Code]++
	}
	return n
}

// Thousands of joins with MaxRooms: past the limit, forbidden, and no room is made.
func TestJoinFloodPastMaxRooms(t *testing.T) {
	const maxRooms = 10
	g := openGW(t, gateway.Limits{MaxRooms: maxRooms})
	c := openClient(t, g, "alice")
	var cmds []map[string]any
	var refs []string
	for i := range 2000 {
		ref := fmt.Sprintf("j%d", i)
		cmds = append(cmds, map[string]any{"type": "join", "chatroomId": fmt.Sprintf("room%d", i), "ref": ref})
		refs = append(refs, ref)
	}
	sendAll(t, c, cmds)
	rs := replies(t, c, refs)
	for i, ref := range refs {
		m := rs[ref]
		if i < maxRooms && m.Type != "joined" || i >= maxRooms && (m.Type != "error" || m.Code != "forbidden") {
			t.Fatalf("join %d of %d: %s (all: %v)", i+1, len(refs), m.Raw, byType(rs))
		}
	}
	// Still serving: joining a room it is in is fine, and after a leave there is space.
	if m := c.Call(map[string]any{"type": "join", "chatroomId": "room3"}); m.Type != "joined" {
		t.Fatalf("rejoin: %s", m.Raw)
	}
	if m := c.Call(map[string]any{"type": "leave", "chatroomId": "room3"}); m.Type != "left" {
		t.Fatalf("leave: %s", m.Raw)
	}
	if m := c.Call(map[string]any{"type": "join", "chatroomId": "room1999"}); m.Type != "joined" {
		t.Fatalf("join after a leave: %s", m.Raw)
	}
	if m := c.Call(map[string]any{"type": "join", "chatroomId": "room3"}); m.Code != "forbidden" {
		t.Fatalf("join past the limit again: %s", m.Raw)
	}
	if evs := storedRoom(t, g, "room500"); len(evs) != 0 {
		t.Fatalf("a refused join stored %v", evs)
	}
	if rooms := publicRooms(t, g); strings.Contains(rooms, "room500") || strings.Contains(rooms, "room10\"") {
		t.Fatalf("refused joins made rooms: %d rooms listed", strings.Count(rooms, "chatroomId"))
	}
}

// Thousands of joins with a command rate: the excess is rate_limited, and the session
// serves again once its allowance refills.
func TestJoinFloodIsRateLimited(t *testing.T) {
	g := openGW(t, gateway.Limits{CommandRate: 5, CommandBurst: 10})
	c := openClient(t, g, "alice")
	var cmds []map[string]any
	var refs []string
	for i := range 2000 {
		ref := fmt.Sprintf("j%d", i)
		cmds = append(cmds, map[string]any{"type": "join", "chatroomId": fmt.Sprintf("room%d", i), "ref": ref})
		refs = append(refs, ref)
	}
	start := time.Now()
	sendAll(t, c, cmds)
	rs := replies(t, c, refs)
	took := time.Since(start)
	n := byType(rs)
	allowed := 10 + int(5*took.Seconds()) + 1
	if n["error/rate_limited"] == 0 || n["joined/"] == 0 || n["joined/"] > allowed || n["joined/"]+n["error/rate_limited"] != len(refs) {
		t.Fatalf("replies %v in %v (at most %d joins allowed)", n, took, allowed)
	}
	var limited string
	for i, ref := range refs {
		if rs[ref].Code == "rate_limited" {
			limited = fmt.Sprintf("room%d", i)
			break
		}
	}
	if evs := storedRoom(t, g, limited); len(evs) != 0 {
		t.Fatalf("a rate-limited join stored %v", evs)
	}
	// The allowance refills: within the bounded wait a command gets through again.
	deadline := time.Now().Add(chattest.Timeout)
	for c.Call(map[string]any{"type": "users"}).Type != "users" {
		if time.Now().After(deadline) {
			t.Fatal("still rate limited")
		}
		<-time.After(50 * time.Millisecond)
	}
	t.Logf("%d joins in %v: %v", len(refs), took, n)
}

// A flood of messages: some are rate_limited; every acked one is stored, no refused one is.
func TestMessageFloodIsRateLimited(t *testing.T) {
	g := openGW(t, gateway.Limits{MessageRate: 10, MessageBurst: 20})
	c := openClient(t, g, "alice")
	if j := c.Call(map[string]any{"type": "join", "chatroomId": "lobby"}); j.Type != "joined" {
		t.Fatalf("join: %s", j.Raw)
	}
	var cmds []map[string]any
	var refs []string
	for i := range 100 {
		ref := fmt.Sprintf("k%d", i)
		cmds = append(cmds, map[string]any{"type": "message", "chatroomId": "lobby", "message": "flood " + ref, "ref": ref})
		refs = append(refs, ref)
	}
	start := time.Now()
	sendAll(t, c, cmds)
	rs := replies(t, c, refs)
	took := time.Since(start)
	acked := map[string]uint64{}
	for _, ref := range refs {
		switch m := rs[ref]; {
		case m.Type == "ack" && m.ID != 0:
			acked["flood "+ref] = m.ID
		case m.Type == "error" && m.Code == "rate_limited":
		default:
			t.Fatalf("%s: %s", ref, m.Raw)
		}
	}
	if len(acked) < 20 || len(acked) > 20+int(10*took.Seconds())+1 || len(acked) == len(refs) {
		t.Fatalf("%d of %d acked in %v", len(acked), len(refs), took)
	}
	stored := map[string]uint64{}
	for _, ev := range storedRoom(t, g, "lobby") {
		if ev.Type == "message" {
			stored[ev.Message] = ev.ID
		}
	}
	if len(stored) != len(acked) {
		t.Fatalf("%d acked, %d stored", len(acked), len(stored))
	}
	for text, id := range acked {
		if stored[text] != id {
			t.Fatalf("acked %q as %d, stored as %d", text, id, stored[text])
		}
	}
	// Other commands are not refused by the message rate.
	if m := c.Call(map[string]any{"type": "history", "chatroomId": "lobby", "limit": 1}); m.Type != "history" {
		t.Fatalf("history during the message limit: %s", m.Raw)
	}
	t.Logf("100 messages in %v: %d acked", took, len(acked))
}
