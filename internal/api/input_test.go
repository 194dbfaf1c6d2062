package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// Bad input is answered with the contract's codes and fitting statuses, over HTTP and
// over NATS (micro's error headers carrying the status, the body the same JSON), and
// nothing is stored for it.
func TestAPIBadInput(t *testing.T) {
	c := start(t, gateway.Config{})
	big := strings.Repeat("x", 4001)
	for _, tc := range []struct {
		name, method string
		body         any
		status       int
		code         string
	}{
		{"bad room name", "publish", map[string]any{"chatroomId": "lob.by", "message": "hi"}, 400, "invalid_room"},
		{"no room", "publish", map[string]any{"message": "hi"}, 400, "bad_request"},
		{"bad user", "publish", map[string]any{"chatroomId": "lobby", "message": "hi", "userId": "a b"}, 400, "invalid_user"},
		{"empty user", "publish", map[string]any{"chatroomId": "lobby", "message": "hi", "userId": ""}, 400, "invalid_user"},
		{"empty message", "publish", map[string]any{"chatroomId": "lobby", "message": " \n\t"}, 400, "bad_request"},
		{"no message", "publish", map[string]any{"chatroomId": "lobby"}, 400, "bad_request"},
		{"message too large", "publish", map[string]any{"chatroomId": "lobby", "message": big}, 400, "too_large"},
		{"not JSON", "publish", `{"chatroomId":"lobby",`, 400, "bad_request"},
		{"not an object", "publish", `["lobby"]`, 400, "bad_request"},
		{"two objects", "publish", `{"chatroomId":"lobby","message":"a"} {}`, 400, "bad_request"},
		{"unknown field", "publish", map[string]any{"chatroomId": "lobby", "message": "hi", "chatroomID": "x"}, 400, "bad_request"},
		{"wrong type", "publish", map[string]any{"chatroomId": "lobby", "message": 42}, 400, "bad_request"},
		{"data not an object", "publish", map[string]any{"chatroomId": "lobby", "message": "hi", "data": []int{1}}, 400, "bad_request"},
		{"data too large", "publish", map[string]any{"chatroomId": "lobby", "message": "hi", "data": map[string]string{"x": strings.Repeat("y", 4096)}}, 400, "bad_request"},
		{"replyTo not a message", "publish", map[string]any{"chatroomId": "lobby", "message": "hi", "replyTo": 999999}, 404, "not_found"},
		{"replyTo negative", "publish", map[string]any{"chatroomId": "lobby", "message": "hi", "replyTo": -1}, 400, "bad_request"},
		{"history limit", "history", map[string]any{"chatroomId": "lobby", "limit": 1001}, 400, "bad_request"},
		{"history since", "history", map[string]any{"chatroomId": "lobby", "since": -1}, 400, "bad_request"},
		{"disconnect nobody", "disconnect", map[string]any{}, 400, "bad_request"},
		{"disconnect bad session", "disconnect", map[string]any{"userId": "alice", "sessionId": "a/b"}, 400, "bad_request"},
		{"token without secret", "token", map[string]any{"userId": "alice", "ttl": "1h"}, 404, "not_found"},
		{"room bad mode", "room", map[string]any{"chatroomId": "lobby", "mode": "secret"}, 400, "bad_request"},
		{"room bad member", "room", map[string]any{"chatroomId": "lobby", "members": []string{"a b"}}, 400, "invalid_user"},
		{"room members not a list", "room", map[string]any{"chatroomId": "lobby", "members": "alice"}, 400, "bad_request"},
		{"room private", "room", map[string]any{"chatroomId": "dm-abc", "mode": "open"}, 400, "bad_request"},
		{"room no id", "room", map[string]any{"mode": "open"}, 400, "bad_request"},
		{"room.get unknown", "room.get", map[string]any{"chatroomId": "nowhere"}, 404, "not_found"},
		{"room.get bad id", "room.get", map[string]any{"chatroomId": "a.b"}, 400, "invalid_room"},
		{"room.delete unknown", "room.delete", map[string]any{"chatroomId": "nowhere"}, 404, "not_found"},
		{"ban without on", "ban", map[string]any{"userId": "troll"}, 400, "bad_request"},
		{"ban nobody", "ban", map[string]any{"on": true}, 400, "bad_request"},
		{"ban on not a bool", "ban", map[string]any{"userId": "troll", "on": "yes"}, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for transport, a := range map[string]answer{
				"http": call(t, c.g1, key1, tc.method, tc.body),
				"nats": natsCall(t, c.nc, tc.method, tc.body),
			} {
				if a.status != tc.status || a.code(t) != tc.code {
					t.Errorf("%s: %d %s, want %d %s", transport, a.status, a.body, tc.status, tc.code)
				}
			}
		})
	}
	h := call(t, c.g1, key1, "history", map[string]any{"chatroomId": "lobby"})
	if string(h.body) != "{\"events\":[]}\n" {
		t.Fatalf("something was stored: %s", h.body)
	}

	// HTTP only: an unknown method, a GET, a body over 64 KiB.
	if a := call(t, c.g1, key1, "nosuch", map[string]any{}); a.status != 404 || a.code(t) != "not_found" {
		t.Fatalf("unknown method: %d %s", a.status, a.body)
	}
	if a := request(t, http.MethodGet, c.g1.HTTP()+"/api/v1/users", key1, ""); a.status != 405 {
		t.Fatalf("GET: %d %s", a.status, a.body)
	}
	huge := `{"chatroomId":"lobby","message":"` + strings.Repeat("x", 70_000) + `"}`
	if a := call(t, c.g1, key1, "publish", huge); a.status != 413 || a.code(t) != "too_large" {
		t.Fatalf("huge body: %d %s", a.status, a.body)
	}
	if a := natsCall(t, c.nc, "publish", huge); a.status != 400 || a.code(t) != "too_large" {
		t.Fatalf("huge body over NATS: %d %s", a.status, a.body)
	}
}

// A wrong or missing key is 401, and both keys of a rotation work. A gateway without keys
// answers 404 under /api/ and registers no NATS service.
func TestAPIKeys(t *testing.T) {
	c := start(t, gateway.Config{})
	for _, key := range []string{key1, key2} {
		if a := call(t, c.g1, key, "users", map[string]any{}); a.status != 200 {
			t.Fatalf("key %s: %d %s", key, a.status, a.body)
		}
	}
	for _, key := range []string{"", "wrong", key1 + "x", key1[:len(key1)-1]} {
		a := call(t, c.g1, key, "publish", map[string]any{"chatroomId": "lobby", "message": "hi"})
		if a.status != 401 || a.code(t) != "unauthorized" {
			t.Fatalf("key %q: %d %s", key, a.status, a.body)
		}
	}
	if a := call(t, c.g1, "wrong", "nosuch", map[string]any{}); a.status != 401 {
		t.Fatalf("an unknown method is looked up only with a good key: %d %s", a.status, a.body)
	}

	// Open mode answers browsers' Hosts only (DNS rebinding); the API, which has keys of
	// its own, answers backends calling it by any name.
	for path, want := range map[string]int{"/api/v1/users": 200, "/users": 403} {
		req, err := http.NewRequest(http.MethodPost, c.g1.HTTP()+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "chat.internal.example"
		req.Header.Set("Authorization", "Bearer "+key1)
		if path == "/users" {
			req.Method = http.MethodGet
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s with Host chat.internal.example: %d, want %d", path, resp.StatusCode, want)
		}
	}

	ns := chattest.NATS(t)
	off := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-off"})
	for _, key := range []string{"", key1} {
		if a := call(t, off, key, "users", map[string]any{}); a.status != 404 || a.code(t) != "not_found" {
			t.Fatalf("no keys, key %q: %d %s", key, a.status, a.body)
		}
	}
	if _, err := backend(t, ns).Request("chat.api.users", []byte("{}"), chattest.Timeout); err == nil {
		t.Fatal("a gateway without keys answered chat.api.users")
	}
}
