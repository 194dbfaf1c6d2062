package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// Limits a client cannot reset by reconnecting, quotas on what it makes, and what each
// endpoint answers to whom. Rates here are tiny (one token per 100 s) so that nothing
// refills during a test however slow the machine is.
const never = 0.01

// A user's message allowance is shared by its connections: reconnecting does not refill it.
func TestReconnectingDoesNotRefillTheMessageAllowance(t *testing.T) {
	g := openGW(t, gateway.Limits{MessageRate: never, MessageBurst: 3})
	c := openClient(t, g, "alice")
	join(t, c, "lobby")
	for i := range 3 {
		post(t, c, "lobby", fmt.Sprint("m", i))
	}
	doErr(t, c, "rate_limited", map[string]any{"type": "message", "chatroomId": "lobby", "message": "fourth"})
	c.Close(websocket.StatusNormalClosure)

	again := openClient(t, g, "alice")
	join(t, again, "lobby")
	doErr(t, again, "rate_limited", map[string]any{"type": "message", "chatroomId": "lobby", "message": "after reconnecting"})
	// A second connection of the same user shares the empty bucket; another user has its own.
	second := openClient(t, g, "alice")
	join(t, second, "lobby")
	doErr(t, second, "rate_limited", map[string]any{"type": "message", "chatroomId": "lobby", "message": "from a second tab"})
	bob := openClient(t, g, "bob")
	join(t, bob, "lobby")
	post(t, bob, "lobby", "bob is fine")
	for _, ev := range storedRoom(t, g, "lobby") {
		if ev.Type == "message" && ev.UserID == "alice" && !strings.HasPrefix(ev.Message, "m") {
			t.Fatalf("a refused message was stored: %s", ev.Raw)
		}
	}
}

// New connections of one user are limited: beyond the burst, rate_limited and 1013.
func TestUserConnectRate(t *testing.T) {
	g := openGW(t, gateway.Limits{UserConnectRate: never, UserConnectBurst: 3})
	for range 3 {
		c := openClient(t, g, "alice")
		c.Close(websocket.StatusNormalClosure)
	}
	refusedOpen(t, g, "alice", "rate_limited", 1013)
	openClient(t, g, "bob")
}

// New connections from one client address are limited before the upgrade (429); behind a
// load balancer the address is the configured header's last entry.
func TestConnectRatePerAddress(t *testing.T) {
	g := openGW(t, gateway.Limits{ConnectRate: never, ConnectBurst: 2, ClientAddrHeader: "X-Forwarded-For"})
	dial := func(user, addr string) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		h := http.Header{"X-Forwarded-For": {"203.0.113.9, " + addr}}
		ws, resp, err := chattest.DialRaw(ctx, g.URL(), url.Values{"user": {user}}, h, 0)
		if err == nil {
			ws.CloseNow()
		}
		return resp, err
	}
	for i := range 2 {
		if _, err := dial(fmt.Sprint("u", i), "198.51.100.1"); err != nil {
			t.Fatalf("connection %d within the burst: %v", i+1, err)
		}
	}
	resp, err := dial("u3", "198.51.100.1")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection from one address: %v, %v; want HTTP 429", resp, err)
	}
	if _, err := dial("u4", "198.51.100.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

// New rooms, public or private, come out of the opener's allowance; joining an existing
// room costs nothing, and a refused room leaves nothing behind.
func TestRoomCreationQuota(t *testing.T) {
	g := openGW(t, gateway.Limits{RoomCreateRate: never, RoomCreateBurst: 3})
	bob := openClient(t, g, "bob")
	join(t, bob, "bobs-room")
	c := openClient(t, g, "alice")
	for i := range 2 {
		join(t, c, fmt.Sprint("new", i))
	}
	if m := do(t, c, "joined", map[string]any{"type": "private", "userId": "nobody-1"}); !m.Private {
		t.Fatalf("private: %s", m.Raw)
	}
	doErr(t, c, "rate_limited", map[string]any{"type": "join", "chatroomId": "one-too-many"})
	doErr(t, c, "rate_limited", map[string]any{"type": "private", "userId": "nobody-2"})
	join(t, c, "bobs-room") // exists: free
	if rooms := publicRooms(t, g); strings.Contains(rooms, "one-too-many") {
		t.Fatalf("a refused room is listed: %s", rooms)
	}
	if evs := storedRoom(t, g, "one-too-many"); len(evs) != 0 {
		t.Fatalf("a refused room stored %v", evs)
	}
	// The peer's allowance is untouched: bob can still make rooms of his own.
	join(t, bob, "bobs-second")
}

// Private rooms others open with a user join its sessions only while they fill less than
// half of --max-rooms: many users opening one each cannot keep it out of the lobby.
func TestOthersPrivateRoomsCannotFillASession(t *testing.T) {
	g := openGW(t, gateway.Limits{MaxRooms: 4})
	victim := openClient(t, g, "victim")
	for i := range 3 {
		opener := openClient(t, g, fmt.Sprint("opener", i))
		do(t, opener, "joined", map[string]any{"type": "private", "userId": "victim"})
		if i < 2 {
			if m := victim.Until("joined", func(m chattest.Msg) bool { return m.Private }); m.Peer != fmt.Sprint("opener", i) {
				t.Fatalf("victim's private joined: %s", m.Raw)
			}
		}
	}
	join(t, victim, "lobby")
	join(t, victim, "games")
	doErr(t, victim, "forbidden", map[string]any{"type": "join", "chatroomId": "third"})
	// The third private room is there for the victim to join when it chooses.
	m := do(t, victim, "rooms", map[string]any{"type": "rooms"})
	private := 0
	for _, r := range roomsOf(t, m) {
		if r.Private {
			private++
		}
	}
	if private != 3 {
		t.Fatalf("victim's rooms list %d private rooms, want 3: %s", private, m.Raw)
	}
}

// GET /rooms answers a page at a time, in id order, with the after= of the next page.
func TestRoomsArePaginated(t *testing.T) {
	g := openGW(t, gateway.Limits{})
	c := openClient(t, g, "alice")
	want := []string{"r1", "r2", "r3", "r4", "r5"}
	for _, r := range want {
		join(t, c, r)
	}
	var got []string
	next := ""
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatalf("more pages than rooms: %v", got)
		}
		var page struct {
			Rooms []struct{ ChatroomID string }
			Next  string
		}
		u := g.HTTP() + "/rooms?limit=2"
		if next != "" {
			u += "&after=" + next
		}
		if status, body := chattest.GetJSON(t, u, nil, &page); status != 200 || len(page.Rooms) > 2 {
			t.Fatalf("GET %s: %d %s", u, status, body)
		}
		for _, r := range page.Rooms {
			got = append(got, r.ChatroomID)
		}
		if page.Next == "" {
			break
		}
		next = page.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rooms over the pages: %v, want %v", got, want)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "after=a.b"} {
		if status, body := chattest.GetJSON(t, g.HTTP()+"/rooms?"+q, nil, nil); status != 400 {
			t.Errorf("GET /rooms?%s: %d %s, want 400", q, status, body)
		}
	}
}

// Token mode: every endpoint but /healthz and /readyz (and the page) needs a valid bearer
// token; metrics are not served on the public address at all.
func TestTokenModeProtectsEveryEndpoint(t *testing.T) {
	g := tokenGW(t)
	bearer := http.Header{"Authorization": {"Bearer " + signFor(t, hardSecret, "alice", 0)}}
	forged := http.Header{"Authorization": {"Bearer " + signFor(t, []byte("another-secret-0123456789abcdefghij"), "alice", 0)}}
	for _, path := range []string{"/rooms", "/users", "/history?chatroomId=lobby"} {
		for name, h := range map[string]http.Header{"anonymous": nil, "forged token": forged} {
			if status, body := chattest.GetJSON(t, g.HTTP()+path, h, nil); status != 401 || !strings.Contains(string(body), "unauthorized") {
				t.Errorf("%s GET %s: %d %s, want 401 unauthorized", name, path, status, body)
			}
		}
		if status, body := chattest.GetJSON(t, g.HTTP()+path, bearer, nil); status != 200 {
			t.Errorf("GET %s with a token: %d %s", path, status, body)
		}
	}
	if status, _ := chattest.GetJSON(t, g.HTTP()+"/metrics", bearer, nil); status != 404 {
		t.Errorf("GET /metrics in token mode: %d, want 404 (served on --metrics-addr only)", status)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if status, body := chattest.GetJSON(t, g.HTTP()+path, nil, nil); status != 200 {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}
}

// Open mode answers only requests whose Host is an IP address, localhost, or a host of the
// allowed origins: a DNS-rebinding page (its own name in Host) gets 403, WebSocket included.
func TestOpenModeChecksTheHost(t *testing.T) {
	t.Parallel()
	g := chattest.StartGateway(t, chattest.NATS(t), gateway.Config{ID: "gw-host", AllowedOrigins: []string{"chat.example.com"}})
	port := g.HTTP()[strings.LastIndexByte(g.HTTP(), ':'):]
	for host, want := range map[string]int{
		"127.0.0.1" + port:        200,
		"localhost" + port:        200,
		"[::1]" + port:            200,
		"chat.example.com":        200,
		"evil.example" + port:     403,
		"rebind.attacker.example": 403,
	} {
		for _, path := range []string{"/users", "/rooms", "/history?chatroomId=lobby", "/ws?user=alice", "/readyz"} {
			if path == "/ws?user=alice" && want == 200 {
				continue // an upgrade without WebSocket headers is a 4xx anyway
			}
			want := want
			if path == "/readyz" {
				want = 200 // health checks pass whatever the Host
			}
			if got := statusWithHost(t, g.HTTP()+path, host); got != want {
				t.Errorf("GET %s with Host %s: %d, want %d", path, host, got, want)
			}
		}
	}
}

func statusWithHost(t *testing.T, u, host string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 403 {
		var e struct{ Error struct{ Code string } }
		if json.Unmarshal(body, &e) != nil || e.Error.Code != "forbidden" {
			t.Errorf("403 body %s", body)
		}
	}
	return resp.StatusCode
}

// refusedOpen dials user in open mode and expects an error frame with code, then close.
func refusedOpen(t *testing.T, g *chattest.Gateway, user, code string, close websocket.StatusCode) {
	t.Helper()
	refused(t, g, url.Values{"user": {user}}, code, close)
}
