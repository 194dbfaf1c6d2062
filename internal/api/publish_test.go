package api_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/chathub/chathub/internal/gateway"
)

// A publish over HTTP (to one gateway) and over NATS reaches a member connected to the
// other gateway live, with the answered id and the shape of a client's message; without
// userId it is a system message. A room that does not exist is made.
func TestAPIPublishReachesMembersLive(t *testing.T) {
	c := start(t, gateway.Config{})
	alice := connect(t, c.g2, "alice", "a1")
	alice.Join("lobby")

	id := call(t, c.g1, key1, "publish", map[string]any{"chatroomId": "lobby", "message": "hello", "userId": "bob"}).id(t)
	m := alice.Until("message", nil)
	f := fields(t, m)
	if m.ID != id || f["userId"] != "bob" || f["message"] != "hello" || f["chatroomId"] != "lobby" || f["unixTime"] == nil {
		t.Fatalf("alice got %s, publish answered id %d", m.Raw, id)
	}
	if keys := slices.Sorted(maps.Keys(f)); !slices.Equal(keys, []string{"chatroomId", "id", "message", "type", "unixTime", "userId"}) {
		t.Fatalf("a published message has fields %v, a client's message has these: %s", keys, m.Raw)
	}

	// Over NATS, without userId: a system message, with data and replyTo.
	a := natsCall(t, c.nc, "publish", map[string]any{"chatroomId": "lobby", "message": "maintenance at noon",
		"data": json.RawMessage("{ \"kind\" : \"notice\",\n \"n\": [1, 2] }"), "replyTo": id})
	sys := a.id(t)
	m = alice.Until("message", nil)
	f = fields(t, m)
	if m.ID != sys || sys <= id || f["system"] != true || f["userId"] != nil || f["message"] != "maintenance at noon" ||
		f["replyTo"] != float64(id) {
		t.Fatalf("alice got %s, publish answered %s", m.Raw, a.body)
	}
	if d, _ := json.Marshal(f["data"]); string(d) != `{"kind":"notice","n":[1,2]}` {
		t.Fatalf("data arrived as %s", d)
	}

	// A room nobody made is made, and its history holds the message.
	id = call(t, c.g2, key2, "publish", map[string]any{"chatroomId": "news", "message": "first"}).id(t)
	j := connect(t, c.g1, "carol", "c1").Join("news")
	if len(j.Events) == 0 || j.Events[0].ID != id || j.Events[0].Message != "first" {
		t.Fatalf("joined news: %s", j.Raw)
	}
	h := call(t, c.g1, key1, "history", map[string]any{"chatroomId": "news"})
	if evs := h.object(t)["events"].([]any); len(evs) != 2 || evs[0].(map[string]any)["id"] != float64(id) {
		t.Fatalf("history of news: %s", h.body)
	}
}

// The same idempotencyKey in the same room stores once and answers the same id, over both
// transports; in another room it is another message.
func TestAPIPublishIdempotencyKey(t *testing.T) {
	c := start(t, gateway.Config{})
	body := map[string]any{"chatroomId": "lobby", "message": "once", "idempotencyKey": "order-42 shipped"}
	first := call(t, c.g1, key1, "publish", body).id(t)
	body["message"] = "a second text does not win"
	if again := call(t, c.g2, key1, "publish", body).id(t); again != first {
		t.Fatalf("same key: id %d, then %d", first, again)
	}
	if again := natsCall(t, c.nc, "publish", body).id(t); again != first {
		t.Fatalf("same key over NATS: id %d, then %d", first, again)
	}
	body["chatroomId"] = "other"
	if other := call(t, c.g1, key1, "publish", body).id(t); other == first {
		t.Fatalf("same key in another room answered the same id %d", other)
	}
	h := call(t, c.g1, key1, "history", map[string]any{"chatroomId": "lobby"}).object(t)
	evs := h["events"].([]any)
	if len(evs) != 1 || evs[0].(map[string]any)["message"] != "once" {
		t.Fatalf("lobby holds %v", evs)
	}
}

// A dm- room must exist (else not_found); a system message may go to it, and a message as
// one of its two users, but not as anyone else (forbidden).
func TestAPIPublishPrivateRoom(t *testing.T) {
	c := start(t, gateway.Config{})
	a := call(t, c.g1, key1, "publish", map[string]any{"chatroomId": "dm-0123456789abcdef0123", "message": "hi"})
	if a.status != 404 || a.code(t) != "not_found" {
		t.Fatalf("publish to a dm- room nobody opened: %d %s", a.status, a.body)
	}
	alice, bob := connect(t, c.g1, "alice", "a1"), connect(t, c.g2, "bob", "b1")
	alice.Send(map[string]any{"type": "private", "userId": "bob", "ref": "p1"})
	p := alice.Until("joined", nil)
	bob.Until("joined", nil)

	sys := call(t, c.g2, key1, "publish", map[string]any{"chatroomId": p.ChatroomID, "message": "from the shop"}).id(t)
	as := natsCall(t, c.nc, "publish", map[string]any{"chatroomId": p.ChatroomID, "message": "as bob", "userId": "bob"}).id(t)
	for _, want := range []uint64{sys, as} {
		if m := alice.Until("message", nil); m.ID != want {
			t.Fatalf("alice got %s, want id %d", m.Raw, want)
		}
		if m := bob.Until("message", nil); m.ID != want {
			t.Fatalf("bob got %s, want id %d", m.Raw, want)
		}
	}
	a = call(t, c.g1, key1, "publish", map[string]any{"chatroomId": p.ChatroomID, "message": "intruder", "userId": "carol"})
	if a.status != 403 || a.code(t) != "forbidden" {
		t.Fatalf("publish as carol to alice and bob's room: %d %s", a.status, a.body)
	}
}
