package api_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// The methods of rooms with rules and bans need a good key over HTTP, like every method.
func TestAPIRulesMethodsNeedAKey(t *testing.T) {
	c := start(t, gateway.Config{})
	for method, body := range map[string]any{
		"room": map[string]any{"chatroomId": "lobby"}, "room.get": map[string]any{"chatroomId": "lobby"},
		"room.delete": map[string]any{"chatroomId": "lobby"}, "ban": map[string]any{"userId": "troll", "on": true},
	} {
		for _, key := range []string{"", "wrong-key-0123456789"} {
			if a := call(t, c.g1, key, method, body); a.status != 401 || a.code(t) != "unauthorized" {
				t.Errorf("%s with key %q: %d %s", method, key, a.status, a.body)
			}
		}
	}
	// Nothing was done: the room does not exist.
	if a := natsCall(t, c.nc, "room.get", map[string]any{"chatroomId": "lobby"}); a.status != 404 {
		t.Fatalf("room.get after refused calls: %d %s", a.status, a.body)
	}
}

type roomView struct {
	Room struct {
		ChatroomID string   `json:"chatroomId"`
		Mode       string   `json:"mode"`
		Members    []string `json:"members"`
		Moderators []string `json:"moderators"`
	} `json:"room"`
	Present []struct {
		UserID   string `json:"userId"`
		Sessions int    `json:"sessions"`
	} `json:"present"`
}

func (a answer) room(t *testing.T) roomView {
	t.Helper()
	var v roomView
	if err := json.Unmarshal(a.body, &v); err != nil || a.status != 200 {
		t.Fatalf("room answer: %d %s", a.status, a.body)
	}
	return v
}

// room creates and changes a room (lists replaced whole, absent ones kept), room.get shows
// it and who is in it, over both transports; the gateways enforce it.
func TestAPIRoomAndRoomGet(t *testing.T) {
	c := start(t, gateway.Config{})
	v := call(t, c.g1, key1, "room", map[string]any{"chatroomId": "club", "mode": "members",
		"members": []string{"bob", "alice", "bob"}, "moderators": []string{"mod1"}}).room(t)
	if v.Room.ChatroomID != "club" || v.Room.Mode != "members" || !slices.Equal(v.Room.Members, []string{"alice", "bob"}) ||
		!slices.Equal(v.Room.Moderators, []string{"mod1"}) {
		t.Fatalf("room: %+v", v)
	}
	v = natsCall(t, c.nc, "room", map[string]any{"chatroomId": "club", "members": []string{"alice"}}).room(t)
	if v.Room.Mode != "members" || !slices.Equal(v.Room.Members, []string{"alice"}) || !slices.Equal(v.Room.Moderators, []string{"mod1"}) {
		t.Fatalf("room, members changed: %+v", v)
	}
	eventually(t, "gw-2 enforcing the change", func() bool {
		return slices.Equal(call(t, c.g2, key2, "room.get", map[string]any{"chatroomId": "club"}).room(t).Room.Members, []string{"alice"})
	})
	alice, bob := connect(t, c.g1, "alice", "a1"), connect(t, c.g2, "bob", "b1")
	alice.Join("club")
	bob.Send(map[string]any{"type": "join", "chatroomId": "club", "ref": "jb"})
	if m := bob.Until("error", nil); m.Code != "forbidden" || m.Ref != "jb" {
		t.Fatalf("bob joining club: %s", m.Raw)
	}
	eventually(t, "alice present in club", func() bool {
		v := natsCall(t, c.nc, "room.get", map[string]any{"chatroomId": "club"}).room(t)
		return len(v.Present) == 1 && v.Present[0].UserID == "alice" && v.Present[0].Sessions == 1
	})
}

// room.delete: every member's session, on both gateways, gets left (deleted); the room's
// events and record are gone.
func TestAPIRoomDelete(t *testing.T) {
	c := start(t, gateway.Config{})
	alice, bob := connect(t, c.g1, "alice", "a1"), connect(t, c.g2, "bob", "b1")
	alice.Join("doomed")
	bob.Join("doomed")
	call(t, c.g1, key1, "publish", map[string]any{"chatroomId": "doomed", "message": "soon gone"}).id(t)

	if a := natsCall(t, c.nc, "room.delete", map[string]any{"chatroomId": "doomed"}); a.status != 200 {
		t.Fatalf("room.delete: %d %s", a.status, a.body)
	}
	for _, cl := range []*chattest.Client{alice, bob} {
		if m := cl.Until("left", nil); m.ChatroomID != "doomed" || m.Reason != "deleted" {
			t.Fatalf("left: %s", m.Raw)
		}
	}
	var h struct{ Events []json.RawMessage }
	if a := call(t, c.g2, key2, "history", map[string]any{"chatroomId": "doomed"}); json.Unmarshal(a.body, &h) != nil || len(h.Events) != 0 {
		t.Fatalf("history of a deleted room: %d %s", a.status, a.body)
	}
	eventually(t, "the record gone", func() bool {
		return call(t, c.g1, key1, "room.get", map[string]any{"chatroomId": "doomed"}).status == 404
	})
	if a := call(t, c.g1, key1, "room.delete", map[string]any{"chatroomId": "doomed"}); a.status != 404 {
		t.Fatalf("room.delete again: %d %s", a.status, a.body)
	}
}

// ban closes the user's connections on both gateways with 4503 and refuses new ones until
// lifted; other users stay.
func TestAPIBan(t *testing.T) {
	c := start(t, gateway.Config{})
	t1, t2 := connect(t, c.g1, "troll", "t1"), connect(t, c.g2, "troll", "t2")
	bob := connect(t, c.g2, "bob", "b1")
	if a := call(t, c.g1, key1, "ban", map[string]any{"userId": "troll", "on": true}); a.status != 200 {
		t.Fatalf("ban: %d %s", a.status, a.body)
	}
	for _, cl := range []*chattest.Client{t1, t2} {
		if code := cl.Closed(); code != 4503 {
			t.Fatalf("troll closed with %d, want 4503", code)
		}
	}
	for _, g := range []*chattest.Gateway{c.g1, c.g2} {
		again := chattest.Dial(t, g.URL(), "troll", "t3")
		if m := again.Next(); m.Type != "error" || m.Code != "forbidden" {
			t.Fatalf("troll reconnecting to %s: %s", g.ID(), m.Raw)
		}
		if code := again.Closed(); code != 4503 {
			t.Fatalf("troll reconnecting to %s: closed with %d", g.ID(), code)
		}
	}
	if m := do(t, bob, "users"); m.Type != "users" {
		t.Fatalf("bob after the ban: %s", m.Raw)
	}
	if a := natsCall(t, c.nc, "ban", map[string]any{"userId": "troll", "on": false}); a.status != 200 {
		t.Fatalf("unban: %d %s", a.status, a.body)
	}
	connect(t, c.g1, "troll", "t4")
	connect(t, c.g2, "troll", "t5")
}
