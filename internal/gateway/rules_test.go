package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// Tests of protocol 1.1's rooms with rules: modes, moderators (from the room's record and
// from chat_admin), moderator deletes and bans, on two gateways in token mode, rooms set up
// through the server API as an application would.

const rulesKey = "rules-test-key-0123456789"

// rulesGW2 starts two token-mode gateways with the server API on one NATS server.
func rulesGW2(t *testing.T) (*chattest.Gateway, *chattest.Gateway) {
	t.Helper()
	g1, g2, _ := gw2(t, gateway.Config{AuthSecret: hardSecret, APIKeys: []string{rulesKey}})
	return g1, g2
}

// dialAs connects user (a moderator of every room when admin) and takes the welcome.
func dialAs(t *testing.T, g *chattest.Gateway, user, session string, admin bool) *chattest.Client {
	t.Helper()
	tok, _, err := auth.Mint(hardSecret, auth.Grant{User: user, TTL: time.Hour, Admin: admin})
	if err != nil {
		t.Fatal(err)
	}
	c, err := chattest.DialQuery(t, g.URL(), url.Values{"token": {tok}, "session": {session}})
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Expect("welcome"); w.UserID != user {
		t.Fatalf("welcome %s", w.Raw)
	}
	return c
}

// apiCall posts body to the server API's method and returns the status and answer.
func apiCall(t *testing.T, g *chattest.Gateway, method string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, g.HTTP()+"/api/v1/"+method, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+rulesKey)
	resp, err := (&http.Client{Timeout: chattest.Timeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// setRoom creates or changes a room through the server API, and waits until both gateways
// enforce it (their copies are kept by their watches: within a second).
func setRoom(t *testing.T, gs []*chattest.Gateway, body map[string]any) {
	t.Helper()
	if status, out := apiCall(t, gs[0], "room", body); status != 200 {
		t.Fatalf("room %v: %d %s", body, status, out)
	}
	want, _ := json.Marshal(body)
	for _, g := range gs {
		waitUntil(t, "the room as set, on "+g.ID(), func() bool {
			status, out := apiCall(t, g, "room.get", map[string]any{"chatroomId": body["chatroomId"]})
			var got struct{ Room map[string]any }
			if status != 200 || json.Unmarshal(out, &got) != nil {
				return false
			}
			var w map[string]any
			json.Unmarshal(want, &w)
			for k, v := range w {
				if a, b := fmt.Sprint(got.Room[k]), fmt.Sprint(v); a != b {
					return false
				}
			}
			return true
		})
	}
}

// waitUntil waits until cond holds; it fails the test after chattest.Timeout (the package's
// waitFor, with that deadline).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	waitFor(t, ctx, what, cond)
}

// joinedAs joins a room, checking the joined reply's mode and moderator.
func joinedAs(t *testing.T, c *chattest.Client, room, mode string, moderator bool) {
	t.Helper()
	j := do(t, c, "joined", map[string]any{"type": "join", "chatroomId": room})
	if j.Mode != mode || j.Moderator != moderator {
		t.Fatalf("joined %s: mode %q moderator %v, want %q %v: %s", room, j.Mode, j.Moderator, mode, moderator, j.Raw)
	}
}

func msg(room, text string) map[string]any {
	return map[string]any{"type": "message", "chatroomId": room, "message": text}
}

func TestRoomModeReadonly(t *testing.T) {
	g1, g2 := rulesGW2(t)
	setRoom(t, []*chattest.Gateway{g1, g2}, map[string]any{"chatroomId": "news", "mode": "readonly", "moderators": []string{"mod1"}})
	alice := dialAs(t, g1, "alice", "a1", false)
	mod := dialAs(t, g2, "mod1", "m1", false)
	admin := dialAs(t, g1, "boss", "b1", true)
	joinedAs(t, alice, "news", "readonly", false)
	joinedAs(t, mod, "news", "readonly", true)
	joinedAs(t, admin, "news", "readonly", true)

	refusedCmd(t, alice, "forbidden", msg("news", "may I?"))
	posted := stored(t, mod, msg("news", "announcement"))
	stored(t, admin, msg("news", "from the admin"))
	refusedCmd(t, alice, "forbidden", map[string]any{"type": "react", "chatroomId": "news", "id": posted.ID, "emoji": "👍", "on": true})
	stored(t, mod, map[string]any{"type": "react", "chatroomId": "news", "id": posted.ID, "emoji": "👍", "on": true})

	// The open default, seen in rooms: the mode, and moderator where the user is one.
	rooms := do(t, mod, "rooms", map[string]any{"type": "rooms"})
	var entries []struct {
		ChatroomID string `json:"chatroomId"`
		Mode       string `json:"mode"`
		Moderator  bool   `json:"moderator"`
	}
	for _, r := range rooms.Rooms {
		var e struct {
			ChatroomID string `json:"chatroomId"`
			Mode       string `json:"mode"`
			Moderator  bool   `json:"moderator"`
		}
		json.Unmarshal(r, &e)
		entries = append(entries, e)
	}
	if len(entries) != 1 || entries[0].ChatroomID != "news" || entries[0].Mode != "readonly" || !entries[0].Moderator {
		t.Fatalf("rooms of mod1: %s", rooms.Raw)
	}
	joinedAs(t, alice, "lobby", "open", false)
	stored(t, alice, msg("lobby", "open rooms take anyone's messages"))
}

func TestRoomModeMembers(t *testing.T) {
	g1, g2 := rulesGW2(t)
	setRoom(t, []*chattest.Gateway{g1, g2}, map[string]any{"chatroomId": "club", "mode": "members", "members": []string{"alice", "bob"}})
	alice, bob := dialAs(t, g1, "alice", "a1", false), dialAs(t, g2, "bob", "b1", false)
	carol := dialAs(t, g2, "carol", "c1", false)
	joinedAs(t, alice, "club", "members", false)
	joinedAs(t, bob, "club", "members", false)
	stored(t, bob, msg("club", "members only"))

	doErr(t, carol, "forbidden", map[string]any{"type": "join", "chatroomId": "club"})
	doErr(t, carol, "forbidden", map[string]any{"type": "history", "chatroomId": "club"})
	refusedCmd(t, carol, "forbidden", msg("club", "let me in"))
	if rooms := do(t, carol, "rooms", map[string]any{"type": "rooms"}); len(rooms.Rooms) != 0 {
		t.Fatalf("carol sees %s", rooms.Raw)
	}
	if rooms := do(t, alice, "rooms", map[string]any{"type": "rooms"}); len(rooms.Rooms) != 1 {
		t.Fatalf("alice sees %s", rooms.Raw)
	}

	// Private rooms are members rooms of their two users.
	p := do(t, alice, "joined", map[string]any{"type": "private", "userId": "carol"})
	if p.Mode != "members" || !p.Private {
		t.Fatalf("private: %s", p.Raw)
	}

	// Listing carol lets her in, on the other gateway too.
	setRoom(t, []*chattest.Gateway{g1, g2}, map[string]any{"chatroomId": "club", "mode": "members", "members": []string{"alice", "bob", "carol"}})
	joinedAs(t, carol, "club", "members", false)
}

func TestModeratorDeletes(t *testing.T) {
	g1, g2 := rulesGW2(t)
	setRoom(t, []*chattest.Gateway{g1, g2}, map[string]any{"chatroomId": "lobby", "moderators": []string{"mod1"}})
	alice, bob := dialAs(t, g1, "alice", "a1", false), dialAs(t, g2, "bob", "b1", false)
	mod, admin := dialAs(t, g2, "mod1", "m1", false), dialAs(t, g1, "boss", "x1", true)
	for _, c := range []*chattest.Client{alice, bob, mod, admin} {
		c.Join("lobby")
	}
	first := stored(t, alice, msg("lobby", "one"))
	second := stored(t, alice, msg("lobby", "two"))
	refusedCmd(t, bob, "forbidden", map[string]any{"type": "delete", "chatroomId": "lobby", "id": first.ID})
	if d := stored(t, mod, map[string]any{"type": "delete", "chatroomId": "lobby", "id": first.ID}); d.Target != first.ID || d.UserID != "mod1" {
		t.Fatalf("delete by the room's moderator: %s", d.Raw)
	}
	if d := stored(t, admin, map[string]any{"type": "delete", "chatroomId": "lobby", "id": second.ID}); d.Target != second.ID {
		t.Fatalf("delete by chat_admin: %s", d.Raw)
	}
	h := do(t, bob, "history", map[string]any{"type": "history", "chatroomId": "lobby"})
	for _, ev := range h.Events {
		if ev.Type == "message" {
			t.Fatalf("a deleted message is still stored: %s", ev.Raw)
		}
	}
}

// A ban while the banned user is mid-burst on the other gateway: after the ban's ack,
// nothing of theirs is stored in the room; their sessions get left (banned), their leave is
// stored, and join, message, react, edit and history are forbidden until the ban is lifted.
func TestBanMidBurstOnAnotherGateway(t *testing.T) {
	g1, g2 := rulesGW2(t)
	setRoom(t, []*chattest.Gateway{g1, g2}, map[string]any{"chatroomId": "arena", "moderators": []string{"mod1"}})
	mod, troll := dialAs(t, g1, "mod1", "m1", false), dialAs(t, g2, "troll", "t1", false)
	bob := dialAs(t, g2, "bob", "b1", false)
	mod.Join("arena")
	troll.Join("arena")
	doErr(t, bob, "forbidden", map[string]any{"type": "ban", "chatroomId": "arena", "userId": "troll", "on": true})
	early := stored(t, troll, msg("arena", "before the burst"))

	stop, sent := make(chan struct{}), make(chan int, 1)
	go func() { // the burst: as fast as the gateway takes them, until told to stop
		n := 0
		defer func() { sent <- n }()
		for ; n < 100000; n++ {
			select {
			case <-stop:
				return
			default:
			}
			cmd := map[string]any{"type": "message", "chatroomId": "arena", "message": fmt.Sprint("burst ", n), "ref": fmt.Sprint("burst-", n)}
			ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
			err := troll.Conn.Send(ctx, cmd)
			cancel()
			if err != nil {
				return
			}
		}
	}()
	mod.Until("message", func(m chattest.Msg) bool { return m.UserID == "troll" && m.ID > early.ID }) // mid-burst
	do(t, mod, "ack", map[string]any{"type": "ban", "chatroomId": "arena", "userId": "troll", "on": true})
	after := stored(t, mod, msg("arena", "after the ban"))

	// The troll's side: acks (all before the ban), then forbidden, and left (banned).
	var acked []uint64
	forbidden, left := 0, false
	for forbidden == 0 || !left {
		m := troll.Next()
		switch {
		case m.Type == "ack":
			acked = append(acked, m.ID)
		case m.Type == "error" && m.Code == "forbidden":
			forbidden++
		case m.Type == "left":
			if m.ChatroomID != "arena" || m.Reason != "banned" || m.Ref != "" {
				t.Fatalf("left: %s", m.Raw)
			}
			left = true
		case m.Type == "error":
			t.Fatalf("burst: %s", m.Raw)
		}
	}
	close(stop)
	t.Logf("burst: %d sent, %d acked before the ban", <-sent, len(acked))
	for _, id := range acked {
		if id > after.ID {
			t.Fatalf("troll's message %d acked after the ban (the moderator's next message is %d)", id, after.ID)
		}
	}
	// What the stream holds, read after the burst ended.
	do(t, troll, "users", map[string]any{"type": "users"}) // every reply of the burst is in
	leave := false
	for _, ev := range roomEvents(t, g1, "arena") {
		if ev.UserID != "troll" {
			continue
		}
		switch {
		case ev.Type == "leave":
			leave = true
		case ev.ID > after.ID:
			t.Fatalf("stored after the ban's ack: %+v", ev)
		}
	}
	if !leave {
		t.Fatal("the troll's leave was not stored")
	}

	doErr(t, troll, "forbidden", map[string]any{"type": "join", "chatroomId": "arena"})
	doErr(t, troll, "forbidden", map[string]any{"type": "history", "chatroomId": "arena"})
	refusedCmd(t, troll, "forbidden", msg("arena", "still here?"))
	refusedCmd(t, troll, "forbidden", map[string]any{"type": "react", "chatroomId": "arena", "id": after.ID, "emoji": "👎", "on": true})
	refusedCmd(t, troll, "forbidden", map[string]any{"type": "edit", "chatroomId": "arena", "id": early.ID, "message": "edited"})

	// Lifted: the troll may come back.
	do(t, mod, "ack", map[string]any{"type": "ban", "chatroomId": "arena", "userId": "troll", "on": false})
	troll.Join("arena")
	stored(t, troll, msg("arena", "sorry"))
}

// roomEvent is a stored event as the tests read it back.
type roomEvent struct {
	ID     uint64 `json:"id"`
	Type   string `json:"type"`
	UserID string `json:"userId"`
}

// roomEvents reads every stored event of a room through the server API.
func roomEvents(t *testing.T, g *chattest.Gateway, room string) []roomEvent {
	t.Helper()
	var all []roomEvent
	for since := uint64(0); ; {
		status, out := apiCall(t, g, "history", map[string]any{"chatroomId": room, "since": since, "limit": 1000})
		var page struct{ Events []roomEvent }
		if status != 200 || json.Unmarshal(out, &page) != nil {
			t.Fatalf("history: %d %s", status, out)
		}
		all = append(all, page.Events...)
		if len(page.Events) < 1000 {
			return all
		}
		since = page.Events[len(page.Events)-1].ID
	}
}

// Every server API call is counted by method and outcome, whichever transport carried it.
func TestAPICallsAreCounted(t *testing.T) {
	g := gw(t, gateway.Config{APIKeys: []string{rulesKey}})
	if status, out := apiCall(t, g, "users", map[string]any{}); status != 200 {
		t.Fatalf("users: %d %s", status, out)
	}
	if status, out := apiCall(t, g, "publish", map[string]any{"chatroomId": "bad room!", "message": "x"}); status != 400 {
		t.Fatalf("publish to a bad room: %d %s", status, out)
	}
	m := metrics(t, g)
	if v := m[`chat_api_calls_total{code="ok",method="users"}`]; v != 1 {
		t.Errorf("users calls counted ok: %v", v)
	}
	if v := m[`chat_api_calls_total{code="invalid_room",method="publish"}`]; v != 1 {
		t.Errorf("publish calls counted invalid_room: %v (all: %v)", v, m["chat_api_calls_total"])
	}
	if v := m["chat_api_seconds_count"]; v != 2 {
		t.Errorf("chat_api_seconds_count %v, want 2", v)
	}
}
