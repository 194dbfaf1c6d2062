package gateway_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

type httpError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type httpEvents struct {
	Events []chattest.Msg `json:"events"`
}

// TestHTTPEndpoints checks GET /history, /rooms, /users, /healthz and /readyz.
func TestHTTPEndpoints(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice, bob := connect(t, g, "alice", "a1"), connect(t, g, "bob", "b1")
	join(t, alice, "lobby")
	var ids []uint64
	for i := range 10 {
		ids = append(ids, post(t, alice, "lobby", fmt.Sprintf("m%d", i)).ID)
	}
	dm := do(t, alice, "joined", map[string]any{"type": "private", "userId": "bob"}).ChatroomID
	post(t, alice, dm, "secret")
	base := g.HTTP()

	var h httpEvents
	if code := get(t, base+"/history?chatroomId=lobby", &h); code != 200 || len(h.Events) != 11 || h.Events[10].Message != "m9" {
		t.Fatalf("history: %d %v", code, h)
	}
	h = httpEvents{}
	if code := get(t, base+fmt.Sprintf("/history?chatroomId=lobby&limit=3&before=%d", ids[5]), &h); code != 200 ||
		len(h.Events) != 3 || h.Events[0].Message != "m2" || h.Events[2].Message != "m4" || h.Events[2].ID != ids[4] {
		t.Fatalf("history page: %d %+v", code, h)
	}
	for _, q := range []string{"chatroomId=lobby&limit=0", "chatroomId=lobby&limit=1001", "chatroomId=lobby&limit=x",
		"chatroomId=lobby&before=-1", "chatroomId=lobby&before=x", "chatroomId=", "chatroomId=a.b", "", "chatroomId=" + url.QueryEscape("a b"),
		"chatroomId=" + dm + "&user=a.b"} {
		var e httpError
		if code := get(t, base+"/history?"+q, &e); code != 400 || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("history?%s: %d %+v", q, code, e)
		}
	}
	// A private room needs a member's identity.
	for _, q := range []string{"", "&user=carol"} {
		var e httpError
		if code := get(t, base+"/history?chatroomId="+dm+q, &e); code != 403 || e.Error.Code != "forbidden" {
			t.Errorf("private history%s: %d %+v", q, code, e)
		}
	}
	h = httpEvents{}
	if code := get(t, base+"/history?chatroomId="+dm+"&user=bob", &h); code != 200 || len(messages(h.Events)) != 1 {
		t.Fatalf("private history for bob: %d %+v", code, h)
	}

	eventually(t, bob, "users", func(m chattest.Msg) bool { return len(usersOf(t, m)) == 2 })
	var users struct{ Users []userInfo }
	if code := get(t, base+"/users", &users); code != 200 || len(users.Users) != 2 || users.Users[0] != (userInfo{"alice", 1}) {
		t.Fatalf("users: %d %+v", code, users)
	}
	eventually(t, bob, "rooms", func(m chattest.Msg) bool { return roomsOf(t, m)[dm].Users == 2 })
	var rooms struct{ Rooms []roomInfo }
	if code := get(t, base+"/rooms", &rooms); code != 200 || len(rooms.Rooms) != 1 || rooms.Rooms[0] != (roomInfo{ChatroomID: "lobby", Users: 1}) {
		t.Fatalf("rooms (public only): %d %+v", code, rooms)
	}
	if code := get(t, base+"/healthz", nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code := get(t, base+"/readyz", nil); code != 200 {
		t.Fatalf("readyz %d", code)
	}
}
