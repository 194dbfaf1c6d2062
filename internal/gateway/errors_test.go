package gateway_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// TestInBandErrors sends every kind of bad command and checks the error code, the echoed
// ref, that the connection still works, and that nothing was stored.
func TestInBandErrors(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice := connect(t, g, "alice", "a1")
	joinID := join(t, alice, "lobby").Events[0].ID
	long := strings.Repeat("r", 65)
	msg := func(text string) string {
		return `{"type":"message","chatroomId":"lobby","ref":"e1","message":` + quote(text) + `}`
	}
	tests := []struct {
		name, frame, code, ref string
	}{
		{"not JSON", `hello`, "bad_request", ""},
		{"truncated JSON", `{"type":"message","chatroomId":"lobby","message":"x"`, "bad_request", ""},
		{"unknown type", `{"type":"shout","chatroomId":"lobby","ref":"e1"}`, "bad_request", "e1"},
		{"type missing", `{"chatroomId":"lobby","message":"x","ref":"e1"}`, "bad_request", "e1"},
		{"room missing", `{"type":"message","message":"x","ref":"e1"}`, "bad_request", "e1"},
		{"message missing", `{"type":"message","chatroomId":"lobby","ref":"e1"}`, "bad_request", "e1"},
		{"room ill-typed", `{"type":"message","chatroomId":7,"message":"x","ref":"e1"}`, "bad_request", "e1"},
		{"message ill-typed", `{"type":"message","chatroomId":"lobby","message":["x"],"ref":"e1"}`, "bad_request", "e1"},
		{"limit ill-typed", `{"type":"join","chatroomId":"lobby","limit":"5","ref":"e1"}`, "bad_request", "e1"},
		{"two commands", `{"type":"message","chatroomId":"lobby","message":"one"}{"type":"message","chatroomId":"lobby","message":"two"}`, "bad_request", ""},
		{"two commands on two lines", "{\"type\":\"message\",\"chatroomId\":\"lobby\",\"message\":\"one\"}\n{\"type\":\"users\"}", "bad_request", ""},
		{"join limit 0", `{"type":"join","chatroomId":"lobby","limit":0,"ref":"e1"}`, "bad_request", "e1"},
		{"join limit 1001", `{"type":"join","chatroomId":"lobby","limit":1001,"ref":"e1"}`, "bad_request", "e1"},
		{"join since negative", `{"type":"join","chatroomId":"lobby","since":-1,"ref":"e1"}`, "bad_request", "e1"},
		{"history limit 0", `{"type":"history","chatroomId":"lobby","limit":0,"ref":"e1"}`, "bad_request", "e1"},
		{"history limit 1001", `{"type":"history","chatroomId":"lobby","limit":1001,"ref":"e1"}`, "bad_request", "e1"},
		{"history before negative", `{"type":"history","chatroomId":"lobby","before":-5,"ref":"e1"}`, "bad_request", "e1"},
		{"ref over 64", `{"type":"message","chatroomId":"lobby","message":"x","ref":"` + long + `"}`, "bad_request", ""},
		{"room with dots", `{"type":"join","chatroomId":"a.b","ref":"e1"}`, "invalid_room", "e1"},
		{"room star", `{"type":"join","chatroomId":"*","ref":"e1"}`, "invalid_room", "e1"},
		{"room gt", `{"type":"join","chatroomId":"lobby.>","ref":"e1"}`, "invalid_room", "e1"},
		{"room with space", `{"type":"join","chatroomId":"a b","ref":"e1"}`, "invalid_room", "e1"},
		{"room unicode", `{"type":"join","chatroomId":"lobbÿ","ref":"e1"}`, "invalid_room", "e1"},
		{"room 65", `{"type":"join","chatroomId":"` + strings.Repeat("x", 65) + `","ref":"e1"}`, "invalid_room", "e1"},
		{"message to bad room", `{"type":"message","chatroomId":"lob by","message":"x","ref":"e1"}`, "invalid_room", "e1"},
		{"history of bad room", `{"type":"history","chatroomId":"a*","ref":"e1"}`, "invalid_room", "e1"},
		{"leave bad room", `{"type":"leave","chatroomId":"a.b","ref":"e1"}`, "invalid_room", "e1"},
		{"private bad user", `{"type":"private","userId":"bo.b","ref":"e1"}`, "invalid_user", "e1"},
		{"private user 65", `{"type":"private","userId":"` + strings.Repeat("b", 65) + `","ref":"e1"}`, "invalid_user", "e1"},
		{"private missing user", `{"type":"private","ref":"e1"}`, "bad_request", "e1"},
		{"private with oneself", `{"type":"private","userId":"alice","ref":"e1"}`, "bad_request", "e1"},
		{"too large", msg(strings.Repeat("x", 4001)), "too_large", "e1"},
		{"too large in bytes", msg(strings.Repeat("é", 2000) + "x"), "too_large", "e1"},
		{"empty message", msg(""), "bad_request", "e1"},
		{"white space message", msg(" \t\r\n "), "bad_request", "e1"},
		{"ideographic space message", msg("\u3000\u3000"), "bad_request", "e1"},
		{"no-break space message", msg("\u00a0\u2002\u2028"), "bad_request", "e1"},
		{"invalid UTF-8", "{\"type\":\"message\",\"chatroomId\":\"lobby\",\"message\":\"bad \xff\xfe\"}", "bad_request", ""},
		{"not member", `{"type":"message","chatroomId":"other","message":"x","ref":"e1"}`, "not_member", "e1"},
	}
	for _, tt := range tests {
		alice.SendRaw([]byte(tt.frame))
		m := alice.Until("error", nil)
		if m.Code != tt.code || m.Ref != tt.ref || m.Message == "" {
			t.Errorf("%s: want %s ref %q, got %s", tt.name, tt.code, tt.ref, m.Raw)
		}
		quiet(t, alice, tt.name) // still works, and nothing else came (no run command, no event)
	}
	// A binary frame, even holding a good command.
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	if err := alice.WS.Write(ctx, websocket.MessageBinary, []byte(msg("binary"))); err != nil {
		t.Fatal(err)
	}
	if m := alice.Until("error", nil); m.Code != "bad_request" {
		t.Errorf("binary frame: %s", m.Raw)
	}
	quiet(t, alice, "binary frame")
	if evs := hist(t, alice, "lobby", "limit", 1000); len(evs) != 1 || evs[0].ID != joinID {
		t.Fatalf("something was stored: %v", messages(evs))
	}
	// The limits themselves are accepted: 4000 bytes (multi-byte), ref of 64, limits 1 and 1000.
	exact := strings.Repeat("é", 1999) + "xx"
	ref64 := strings.Repeat("k", 64)
	alice.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": exact, "ref": ref64})
	if a, _ := await(t, alice, ref64); a.Type != "ack" {
		t.Fatalf("ack %s", a.Raw)
	}
	join(t, alice, "lobby", "limit", 1)
	join(t, alice, "lobby", "limit", 1000, "since", 0)
	if evs := hist(t, alice, "lobby", "limit", 1); len(evs) != 1 || evs[0].Message != exact {
		t.Fatalf("4000-byte message not stored as sent")
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestTwoCommandsInOneFrameRunNone checks that none of the commands of a frame with two runs.
func TestTwoCommandsInOneFrameRunNone(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice := connect(t, g, "alice", "a1")
	alice.SendRaw([]byte(`{"type":"join","chatroomId":"r1","ref":"x1"}` + "\n" + `{"type":"users","ref":"x2"}` + "\n"))
	if m := alice.Until("error", nil); m.Code != "bad_request" {
		t.Fatalf("two commands: %s", m.Raw)
	}
	for _, m := range upto(t, alice) {
		if m.Ref == "x1" || m.Ref == "x2" || m.ChatroomID == "r1" {
			t.Fatalf("a command of the frame ran: %s", m.Raw)
		}
	}
	doErr(t, alice, "not_member", map[string]any{"type": "message", "chatroomId": "r1", "message": "x"})
	// A trailing newline after one command is fine.
	alice.SendRaw([]byte(`{"type":"users","ref":"x3"}` + "\n"))
	if m, _ := await(t, alice, "x3"); m.Type != "users" {
		t.Fatalf("one command and a newline: %s", m.Raw)
	}
}

// TestFrameSizeLimit checks that a 64 KiB frame is read and a larger one closes with 1009.
func TestFrameSizeLimit(t *testing.T) {
	g := gw(t, gateway.Config{})
	alice := connect(t, g, "alice", "a1")
	frame := func(size int) []byte {
		head := `{"type":"users","ref":"big","pad":"`
		return []byte(head + strings.Repeat("p", size-len(head)-2) + `"}`)
	}
	alice.SendRaw(frame(65536))
	if m, _ := await(t, alice, "big"); m.Type != "users" {
		t.Fatalf("64 KiB frame: %s", m.Raw)
	}
	alice.SendRaw(frame(65537))
	if code := alice.Closed(); code != websocket.StatusMessageTooBig {
		t.Fatalf("frame over 64 KiB: close %d", code)
	}
}

// TestConnectRefused checks that a bad identity gets an error frame and close 4500.
func TestConnectRefused(t *testing.T) {
	g := gw(t, gateway.Config{})
	tests := []struct {
		name          string
		user, session string
		code          string
	}{
		{"no user", "", "s1", "invalid_user"},
		{"user with dot", "a.b", "s1", "invalid_user"},
		{"user with space", "a b", "s1", "invalid_user"},
		{"user unicode", "zoë", "s1", "invalid_user"},
		{"user 65", strings.Repeat("u", 65), "s1", "invalid_user"},
		{"session with star", "alice", "s*", "bad_request"},
		{"session with dot", "alice", "s.1", "bad_request"},
		{"session 65", "alice", strings.Repeat("s", 65), "bad_request"},
	}
	for _, tt := range tests {
		c, err := chattest.DialQuery(t, g.URL(), url.Values{"user": {tt.user}, "session": {tt.session}})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if m := c.Next(); m.Type != "error" || m.Code != tt.code || m.Message == "" {
			t.Errorf("%s: %s", tt.name, m.Raw)
		}
		if code := c.Closed(); code != 4500 {
			t.Errorf("%s: close %d", tt.name, code)
		}
	}
	// None of them counts as a user.
	c := connect(t, g, "alice", "a1")
	if u := usersOf(t, eventually(t, c, "users", func(m chattest.Msg) bool { return len(usersOf(t, m)) > 0 })); len(u) != 1 || u["alice"] != 1 {
		t.Fatalf("users %v", u)
	}
}
