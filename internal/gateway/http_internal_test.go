package gateway

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/chathub/chathub/internal/api"
	"github.com/chathub/chathub/internal/protocol"
)

func TestHostAllowed(t *testing.T) {
	patterns := []string{"chat.example.com", "*.example.org", "dev.local:3000"}
	for host, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "10.1.2.3": true, "localhost": true,
		"LOCALHOST:8080": true, "app.localhost:8080": true, "chat.example.com:443": true,
		"a.example.org": true, "dev.local:3000": true, "localhost.:8080": true,
		"example.com": false, "evil.example:8080": false, "example.org": false,
		"dev.local:4000": false, "localhost.evil.com": false,
		"": true, // HTTP/1.0 without Host: health checks; browsers always send one
	} {
		if got := hostAllowed(host, patterns); got != want {
			t.Errorf("hostAllowed(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestRoomsPage(t *testing.T) {
	var all []protocol.RoomInfo
	for i := range 5 {
		all = append(all, protocol.RoomInfo{ChatroomID: fmt.Sprint("r", i)})
	}
	ids := func(p protocol.Rooms) string {
		s := ""
		for _, r := range p.Rooms {
			s += r.ChatroomID + " "
		}
		return s + "next=" + p.Next
	}
	for _, c := range []struct {
		after string
		limit int
		want  string
	}{
		{"", 2, "r0 r1 next=r1"},
		{"r1", 2, "r2 r3 next=r3"},
		{"r3", 2, "r4 next="},
		{"r4", 2, "next="},
		{"", 5, "r0 r1 r2 r3 r4 next="},
		{"r15", 10, "r2 r3 r4 next="}, // a room gone since: the next after it
		{"a", 1, "r0 next=r0"},
	} {
		if got := ids(roomsPage(all, c.after, c.limit)); got != c.want {
			t.Errorf("roomsPage(after %q, limit %d) = %q, want %q", c.after, c.limit, got, c.want)
		}
	}
}

func TestHistorySlots(t *testing.T) {
	g := &Gateway{limits: Limits{HistoryReads: 1}.limiters()}
	release, e := g.historySlot(context.Background())
	if e != nil {
		t.Fatal(e)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, e := g.historySlot(ctx); e == nil || e.Code != protocol.CodeRateLimited {
		t.Fatalf("second read while the only slot is taken: %v, want rate_limited", e)
	}
	release()
	release, e = g.historySlot(ctx)
	if e != nil {
		t.Fatalf("read after the slot was released: %v", e)
	}
	release()
	unlimited := &Gateway{limits: Limits{}.limiters()}
	for range 100 {
		if _, e := unlimited.historySlot(ctx); e != nil {
			t.Fatal(e)
		}
	}
}

// The query of GET /history, whatever it holds, is refused with a protocol error or gives
// a valid room, a limit in range and a non-negative before.
func FuzzHistoryQuery(f *testing.F) {
	for _, s := range []string{"chatroomId=lobby", "chatroomId=lobby&limit=50&before=1200",
		"chatroomId=a.b", "chatroomId=lobby&limit=-1", "chatroomId=lobby&before=99999999999999999999",
		"chatroomId=%00&limit=1e3", "chatroomId=x&chatroomId=y&limit=1&limit=2", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		hq, e := parseHistoryQuery(q)
		if e != nil {
			if api.Status(e.Code) != 400 {
				t.Fatalf("%q: error %v is not a 400", raw, e)
			}
			return
		}
		if !protocol.ValidName(hq.room) || hq.limit < 1 || hq.limit > protocol.MaxLimit || hq.before != nil && *hq.before < 0 {
			t.Fatalf("%q accepted as %+v", raw, hq)
		}
	})
}

// The query of GET /rooms: a limit in range and a valid (or empty) after, or a 400.
func FuzzRoomsQuery(f *testing.F) {
	for _, s := range []string{"", "limit=2", "limit=2&after=r1", "after=a.b", "limit=0", "limit=1001", "after=%ff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		after, limit, e := parseRoomsQuery(q)
		if e != nil {
			if api.Status(e.Code) != 400 {
				t.Fatalf("%q: error %v is not a 400", raw, e)
			}
			return
		}
		if limit < 1 || limit > maxRoomsPage || after != "" && !protocol.ValidName(after) {
			t.Fatalf("%q accepted as after %q limit %d", raw, after, limit)
		}
	})
}
