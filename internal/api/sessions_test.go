package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/micro"
)

// disconnect closes one session's connection when sessionId is given, else every
// connection of the user, on every gateway, with 4002; other users stay.
func TestAPIDisconnect(t *testing.T) {
	c := start(t, gateway.Config{})
	a1, a2 := connect(t, c.g1, "alice", "a1"), connect(t, c.g2, "alice", "a2")
	a3 := connect(t, c.g2, "alice", "a3")
	bob := connect(t, c.g1, "bob", "b1")

	if a := call(t, c.g1, key1, "disconnect", map[string]any{"userId": "alice", "sessionId": "a2"}); a.status != 200 {
		t.Fatalf("disconnect a2: %d %s", a.status, a.body)
	}
	if code := a2.Closed(); code != 4002 {
		t.Fatalf("a2 closed with %d, want 4002", code)
	}
	for _, cl := range []*chattest.Client{a1, a3, bob} {
		if m := do(t, cl, "users"); m.Type != "users" {
			t.Fatalf("after a2's disconnect: %s", m.Raw)
		}
	}
	if a := natsCall(t, c.nc, "disconnect", map[string]any{"userId": "alice"}); a.status != 200 {
		t.Fatalf("disconnect alice: %d %s", a.status, a.body)
	}
	for _, cl := range []*chattest.Client{a1, a3} {
		if code := cl.Closed(); code != 4002 {
			t.Fatalf("alice's connection closed with %d, want 4002", code)
		}
	}
	if m := do(t, bob, "users"); m.Type != "users" {
		t.Fatalf("bob after alice's disconnect: %s", m.Raw)
	}
	// Reconnecting is allowed.
	connect(t, c.g2, "alice", "a1")
}

// do sends a command with a ref and returns the reply carrying it.
func do(t *testing.T, c *chattest.Client, typ string) chattest.Msg {
	t.Helper()
	ref := typ + "-" + time.Now().Format("150405.000000000")
	c.Send(map[string]any{"type": typ, "ref": ref})
	return c.Until(typ, func(m chattest.Msg) bool { return m.Ref == ref })
}

// users lists the users online on any gateway, as GET /users does.
func TestAPIUsersAndHistory(t *testing.T) {
	c := start(t, gateway.Config{})
	connect(t, c.g1, "alice", "a1")
	connect(t, c.g2, "alice", "a2")
	connect(t, c.g2, "bob", "b1")
	eventually(t, "both users online", func() bool {
		var u struct {
			Users []struct {
				UserID   string `json:"userId"`
				Sessions int    `json:"sessions"`
			} `json:"users"`
		}
		a := natsCall(t, c.nc, "users", "")
		if err := json.Unmarshal(a.body, &u); err != nil || a.status != 200 {
			t.Fatalf("users: %d %s", a.status, a.body)
		}
		return len(u.Users) == 2 && u.Users[0].Sessions+u.Users[1].Sessions == 3
	})
	if a := call(t, c.g1, key1, "users", ""); a.status != 200 || len(a.object(t)["users"].([]any)) != 2 {
		t.Fatalf("users over HTTP: %d %s", a.status, a.body)
	}

	var ids []uint64
	for _, m := range []string{"one", "two", "three", "four"} {
		ids = append(ids, call(t, c.g1, key1, "publish", map[string]any{"chatroomId": "log", "message": m}).id(t))
	}
	for _, tc := range []struct {
		body map[string]any
		want []uint64
	}{
		{map[string]any{"chatroomId": "log"}, ids},
		{map[string]any{"chatroomId": "log", "limit": 2}, ids[2:]},
		{map[string]any{"chatroomId": "log", "before": ids[2], "limit": 1}, ids[1:2]},
		{map[string]any{"chatroomId": "log", "since": ids[0], "limit": 2}, ids[1:3]},
		{map[string]any{"chatroomId": "log", "since": ids[0], "before": ids[2]}, ids[1:2]},
		{map[string]any{"chatroomId": "log", "before": 1}, nil},
		{map[string]any{"chatroomId": "empty"}, nil},
	} {
		var h struct {
			Events []struct {
				ID uint64 `json:"id"`
			} `json:"events"`
		}
		a := natsCall(t, c.nc, "history", tc.body)
		if err := json.Unmarshal(a.body, &h); err != nil || a.status != 200 || h.Events == nil {
			t.Fatalf("history %v: %d %s", tc.body, a.status, a.body)
		}
		var got []uint64
		for _, e := range h.Events {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Fatalf("history %v: ids %v, want %v", tc.body, got, tc.want)
		}
	}
}

// token mints a token that a token-mode gateway accepts, for its issuer and audience.
func TestAPIToken(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	c := start(t, gateway.Config{AuthSecret: secret, Tokens: tokenRules})
	a := natsCall(t, c.nc, "token", map[string]any{"userId": "alice", "ttl": "1h", "admin": true})
	tok, _ := a.object(t)["token"].(string)
	if a.status != 200 || tok == "" {
		t.Fatalf("token: %d %s", a.status, a.body)
	}
	cl, err := chattest.DialQuery(t, c.g2.URL(), url.Values{"token": {tok}, "session": {"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	if w := cl.Expect("welcome"); w.UserID != "alice" {
		t.Fatalf("welcome %s", w.Raw)
	}
	cl.Close(websocket.StatusNormalClosure)
	for _, body := range []map[string]any{
		{"userId": "alice"},
		{"userId": "alice", "ttl": "forever"},
		{"userId": "alice", "ttl": "-1h"},
		{"userId": "alice", "ttl": "8760h"},
		{"userId": "al ice", "ttl": "1h"},
	} {
		if a := call(t, c.g1, key1, "token", body); a.status != 400 {
			t.Fatalf("token %v: %d %s", body, a.status, a.body)
		}
	}
}

// The NATS service shows in micro's discovery: its name, version, description and one
// endpoint per method on chat.api.<method> in the default queue group, on every gateway.
func TestAPIServiceInfo(t *testing.T) {
	c := start(t, gateway.Config{})
	natsCall(t, c.nc, "users", "{}")
	m, err := c.nc.Request("$SRV.INFO.chat", nil, chattest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	var info micro.Info
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	if info.Name != "chat" || info.Version == "" || info.Description == "" || info.Type != micro.InfoResponseType {
		t.Fatalf("info %s", m.Data)
	}
	var subjects []string
	for _, e := range info.Endpoints {
		if e.QueueGroup != micro.DefaultQueueGroup {
			t.Fatalf("endpoint %s in queue group %q", e.Name, e.QueueGroup)
		}
		subjects = append(subjects, e.Subject)
	}
	want := []string{"chat.api.ban", "chat.api.disconnect", "chat.api.history", "chat.api.publish", "chat.api.room",
		"chat.api.room.delete", "chat.api.room.get", "chat.api.token", "chat.api.users"}
	if slices.Sort(subjects); !slices.Equal(subjects, want) {
		t.Fatalf("endpoints %v, want %v", subjects, want)
	}

	// Every gateway answers PING; STATS counts the requests.
	sub, err := c.nc.SubscribeSync(c.nc.NewInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.nc.PublishRequest("$SRV.PING.chat", sub.Subject, nil); err != nil {
		t.Fatal(err)
	}
	gateways := map[string]bool{}
	for len(gateways) < 2 {
		m, err := sub.NextMsg(chattest.Timeout)
		if err != nil {
			t.Fatalf("pings answered by %v: %v", gateways, err)
		}
		var p micro.Ping
		if err := json.Unmarshal(m.Data, &p); err != nil {
			t.Fatal(err)
		}
		gateways[p.Metadata["gateway"]] = true
	}
	if !gateways["gw-1"] || !gateways["gw-2"] {
		t.Fatalf("pings answered by %v", gateways)
	}
	eventually(t, "a request counted in STATS", func() bool {
		sub2, _ := c.nc.SubscribeSync(c.nc.NewInbox())
		defer sub2.Unsubscribe()
		c.nc.PublishRequest("$SRV.STATS.chat", sub2.Subject, nil)
		n := 0
		for range 2 {
			m, err := sub2.NextMsg(chattest.Timeout)
			if err != nil {
				t.Fatal(err)
			}
			var s micro.Stats
			if err := json.Unmarshal(m.Data, &s); err != nil {
				t.Fatal(err)
			}
			for _, e := range s.Endpoints {
				if e.Subject == "chat.api.users" {
					n += e.NumRequests
				}
			}
		}
		return n == 1
	})
}

// A history answer over NATS's maximum payload is answered too_large over NATS (rather
// than never), and in full over HTTP.
func TestAPIHistoryOverMaxPayload(t *testing.T) {
	c := start(t, gateway.Config{})
	text := strings.Repeat("y", 3990)
	n := int(c.nc.MaxPayload())/len(text) + 2
	for i := range n {
		call(t, c.g1, key1, "publish", map[string]any{"chatroomId": "big", "message": text, "idempotencyKey": fmt.Sprint(i)}).id(t)
	}
	body := map[string]any{"chatroomId": "big", "limit": 1000}
	if a := natsCall(t, c.nc, "history", body); a.status != 400 || a.code(t) != "too_large" {
		t.Fatalf("history over NATS: %d %.300s", a.status, a.body)
	}
	if a := call(t, c.g2, key1, "history", body); a.status != 200 || len(a.object(t)["events"].([]any)) != n {
		t.Fatalf("history over HTTP: %d %.300s", a.status, a.body)
	}
}
