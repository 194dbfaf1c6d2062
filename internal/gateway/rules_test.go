package gateway_test

import (
	"bytes"
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
		poll(t, "the room as set, on "+g.ID(), func() bool {
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

// poll waits, polling every 10 ms, until cond holds; it fails the test after chattest.Timeout.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
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
