package gateway_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// Hostile and careless input: every bad frame gets its protocol error, the connection
// goes on serving, and nothing is stored. (The plain error cases are in errors_test.go.)

// openGW starts a gateway in open mode with limits, on a NATS server of its own.
func openGW(t *testing.T, l gateway.Limits) *chattest.Gateway {
	t.Helper()
	t.Parallel()
	return chattest.StartGateway(t, chattest.NATS(t), gateway.Config{ID: "gw-hard", Limits: l})
}

// openClient connects user in open mode and takes the welcome.
func openClient(t *testing.T, g *chattest.Gateway, user string) *chattest.Client {
	t.Helper()
	c := chattest.Dial(t, g.URL(), user, "")
	if w := c.Expect("welcome"); w.UserID != user {
		t.Fatalf("welcome %s", w.Raw)
	}
	return c
}

// storedRoom returns a room's stored events through GET /history.
func storedRoom(t *testing.T, g *chattest.Gateway, room string) []chattest.Msg {
	t.Helper()
	var h struct{ Events []chattest.Msg }
	if status, body := chattest.GetJSON(t, g.HTTP()+"/history?limit=1000&chatroomId="+room, nil, &h); status != 200 {
		t.Fatalf("history of %s: %d %s", room, status, body)
	}
	return h.Events
}

func publicRooms(t *testing.T, g *chattest.Gateway) string {
	t.Helper()
	_, body := chattest.GetJSON(t, g.HTTP()+"/rooms", nil, nil)
	return string(body)
}

type hostile struct {
	frame  string
	code   string
	binary bool
}

func hostileFrames() map[string]hostile {
	long := strings.Repeat("r", 65)
	msg := func(text string) string {
		b, _ := json.Marshal(map[string]string{"type": "message", "chatroomId": "lobby", "message": text})
		return string(b)
	}
	cases := map[string]hostile{
		// missing fields
		"empty object":         {`{}`, "bad_request", false},
		"message without text": {`{"type":"message","chatroomId":"lobby"}`, "bad_request", false},
		"message without room": {`{"type":"message","message":"x"}`, "bad_request", false},
		"message without type": {`{"chatroomId":"lobby","message":"x"}`, "bad_request", false},
		"join without room":    {`{"type":"join"}`, "bad_request", false},
		"history without room": {`{"type":"history"}`, "bad_request", false},
		"private without user": {`{"type":"private"}`, "bad_request", false},
		"null message":         {`{"type":"message","chatroomId":"lobby","message":null}`, "bad_request", false},
		"null type":            {`{"type":null,"chatroomId":"lobby","message":"x"}`, "bad_request", false},
		// ill-typed fields
		"message a number":  {`{"type":"message","chatroomId":"lobby","message":42}`, "bad_request", false},
		"message an array":  {`{"type":"message","chatroomId":"lobby","message":["x"]}`, "bad_request", false},
		"message an object": {`{"type":"message","chatroomId":"lobby","message":{"text":"x"}}`, "bad_request", false},
		"message true":      {`{"type":"message","chatroomId":"lobby","message":true}`, "bad_request", false},
		"room a number":     {`{"type":"message","chatroomId":7,"message":"x"}`, "bad_request", false},
		"room an array":     {`{"type":"join","chatroomId":["ghost"]}`, "bad_request", false},
		"type a number":     {`{"type":7}`, "bad_request", false},
		"type an array":     {`{"type":["join"],"chatroomId":"ghost"}`, "bad_request", false},
		"limit a string":    {`{"type":"join","chatroomId":"ghost","limit":"50"}`, "bad_request", false},
		"limit a fraction":  {`{"type":"join","chatroomId":"ghost","limit":1.5}`, "bad_request", false},
		"limit huge":        {`{"type":"join","chatroomId":"ghost","limit":1e400}`, "bad_request", false},
		"limit zero":        {`{"type":"join","chatroomId":"ghost","limit":0}`, "bad_request", false},
		"limit over int64":  {`{"type":"join","chatroomId":"ghost","limit":9223372036854775808}`, "bad_request", false},
		"since negative":    {`{"type":"join","chatroomId":"ghost","since":-1}`, "bad_request", false},
		"since a string":    {`{"type":"join","chatroomId":"ghost","since":"0"}`, "bad_request", false},
		"since huge":        {`{"type":"join","chatroomId":"ghost","since":1e30}`, "bad_request", false},
		"before a bool":     {`{"type":"history","chatroomId":"lobby","before":false}`, "bad_request", false},
		"before negative":   {`{"type":"history","chatroomId":"lobby","before":-9223372036854775808}`, "bad_request", false},
		"ref a number":      {`{"type":"message","chatroomId":"lobby","message":"x","ref":5}`, "bad_request", false},
		"ref an object":     {`{"type":"message","chatroomId":"lobby","message":"x","ref":{}}`, "bad_request", false},
		"ref of 65":         {`{"type":"message","chatroomId":"lobby","message":"x","ref":"` + long + `"}`, "bad_request", false},
		"userId a number":   {`{"type":"private","userId":1}`, "bad_request", false},
		// not one JSON command object
		"plain text":            {`hello`, "bad_request", false},
		"empty frame":           {``, "bad_request", false},
		"white space frame":     {" \n\t ", "bad_request", false},
		"array":                 {`[{"type":"users"}]`, "bad_request", false},
		"null":                  {`null`, "bad_request", false},
		"string":                {`"join"`, "bad_request", false},
		"number":                {`42`, "bad_request", false},
		"truncated":             {`{"type":"message","chatroomId":"lobby","message":"x"`, "bad_request", false},
		"two commands":          {msg("one") + msg("two"), "bad_request", false},
		"two commands, newline": {msg("one") + "\n" + msg("two"), "bad_request", false},
		"trailing garbage":      {msg("one") + " x", "bad_request", false},
		"deep nesting":          {`{"type":"users","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, "bad_request", false},
		"binary frame":          {msg("binary"), "bad_request", true},
		// unknown types
		"unknown type":      {`{"type":"shutdown"}`, "bad_request", false},
		"type in capitals":  {`{"type":"MESSAGE","chatroomId":"lobby","message":"x"}`, "bad_request", false},
		"type with a space": {`{"type":"message ","chatroomId":"lobby","message":"x"}`, "bad_request", false},
		"type an event":     {`{"type":"joined","chatroomId":"ghost"}`, "bad_request", false},
		"type __proto__":    {`{"type":"__proto__"}`, "bad_request", false},
		"empty type":        {`{"type":""}`, "bad_request", false},
		// empty, white-space and invalid text
		"empty message":         {msg(""), "bad_request", false},
		"spaces":                {msg("    "), "bad_request", false},
		"tabs and newlines":     {msg("\t\r\n \v\f"), "bad_request", false},
		"unicode spaces":        {msg("\u00a0\u1680\u2000\u2003\u2028\u2029\u202f\u205f\u3000\u0085"), "bad_request", false},
		"invalid UTF-8":         {`{"type":"message","chatroomId":"lobby","message":"\xff\xfe"}`, "bad_request", false},
		"overlong UTF-8":        {`{"type":"message","chatroomId":"lobby","message":"\xc0\xaf"}`, "bad_request", false},
		"UTF-8 surrogate":       {`{"type":"message","chatroomId":"lobby","message":"\xed\xa0\x80"}`, "bad_request", false},
		"invalid UTF-8 in ref":  {`{"type":"message","chatroomId":"lobby","message":"x","ref":"\xff"}`, "bad_request", false},
		"invalid UTF-8 outside": {"\xff" + msg("x"), "bad_request", false},
		"4001 bytes":            {msg(strings.Repeat("x", 4001)), "too_large", false},
		"4002 bytes in 2001 é":  {msg(strings.Repeat("é", 2001)), "too_large", false},
		"4002 bytes in 1334 €":  {msg(strings.Repeat("€", 1334)), "too_large", false},
		"64 KiB message":        {msg(strings.Repeat("x", 65000)), "too_large", false},
	}
	for _, name := range []string{"a.b", "chat.room.x", "*", ">", "a*b", "a>b", "a b", " lobby", "lobby ", "lobby\n", "lobby\t", "a\x00b",
		"café", "ロビー", "😀", "a/b", `a\b`, long, strings.Repeat("é", 32)} {
		q := func(v string) string { b, _ := json.Marshal(v); return string(b) }
		cases["join "+q(name)] = hostile{`{"type":"join","chatroomId":` + q(name) + `}`, "invalid_room", false}
		cases["message to "+q(name)] = hostile{`{"type":"message","chatroomId":` + q(name) + `,"message":"x"}`, "invalid_room", false}
		cases["history of "+q(name)] = hostile{`{"type":"history","chatroomId":` + q(name) + `}`, "invalid_room", false}
		cases["leave "+q(name)] = hostile{`{"type":"leave","chatroomId":` + q(name) + `}`, "invalid_room", false}
		cases["private with "+q(name)] = hostile{`{"type":"private","userId":` + q(name) + `}`, "invalid_user", false}
	}
	return cases
}

func TestHostileFramesAreAnsweredAndStoreNothing(t *testing.T) {
	g := openGW(t, gateway.Limits{})
	c := openClient(t, g, "alice")
	if j := c.Call(map[string]any{"type": "join", "chatroomId": "lobby"}); j.Type != "joined" {
		t.Fatalf("join: %s", j.Raw)
	}
	// The ack and the own copy of the message come in either order; take both.
	c.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "before", "ref": "before"})
	for acked, echoed := false, false; !acked || !echoed; {
		switch m := c.Next(); {
		case m.Ref == "before" && m.Type == "ack":
			acked = true
		case m.Ref == "before":
			t.Fatalf("post: %s", m.Raw)
		case m.Type == "message" && m.Message == "before":
			echoed = true
		}
	}
	before := storedRoom(t, g, "lobby")

	for name, h := range hostileFrames() {
		typ := websocket.MessageText
		if h.binary {
			typ = websocket.MessageBinary
		}
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		if err := c.WS.Write(ctx, typ, []byte(h.frame)); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		cancel()
		got := c.Mark()
		if len(got) != 1 || got[0].Type != "error" || got[0].Code != h.code || got[0].Message == "" {
			var raws []string
			for _, m := range got {
				raws = append(raws, string(m.Raw))
			}
			t.Errorf("%s: want one error %s, got %v", name, h.code, raws)
		}
	}

	if a := c.Call(map[string]any{"type": "message", "chatroomId": "lobby", "message": "after"}); a.Type != "ack" {
		t.Fatalf("post after the hostile frames: %s", a.Raw)
	}
	after := storedRoom(t, g, "lobby")
	if len(after) != len(before)+1 || after[len(after)-1].Message != "after" {
		var raws []string
		for _, m := range after[len(before):] {
			raws = append(raws, string(m.Raw))
		}
		t.Fatalf("stored by hostile frames: %v", raws)
	}
	if rooms := publicRooms(t, g); strings.Contains(rooms, "ghost") || strings.Contains(rooms, `"a`) {
		t.Fatalf("rooms made by refused joins: %s", rooms)
	}
	if evs := storedRoom(t, g, "ghost"); len(evs) != 0 {
		t.Fatalf("ghost has events: %v", evs)
	}
}

// Hostile names in the query are refused before anything is made for them.
func TestHostileQueryNames(t *testing.T) {
	g := openGW(t, gateway.Limits{})
	for _, name := range []string{"a.b", "*", ">", "chat.>", "a b", "café", "😀", strings.Repeat("u", 65), "a\x00b", "%"} {
		refused(t, g, url.Values{"user": {name}}, "invalid_user", 4500)
		refused(t, g, url.Values{"user": {"alice"}, "session": {name}}, "bad_request", 4500)
	}
	for _, q := range []string{"chatroomId=a.b", "chatroomId=*", "chatroomId=%3E", "chatroomId=a+b", "chatroomId=" + strings.Repeat("r", 65),
		"chatroomId=caf%C3%A9", "chatroomId=", "chatroomId=lobby&limit=0", "chatroomId=lobby&limit=1001", "chatroomId=lobby&limit=x",
		"chatroomId=lobby&limit=99999999999999999999", "chatroomId=lobby&before=-1", "chatroomId=lobby&before=1e3",
		"chatroomId=lobby&user=a.b"} {
		status, body := chattest.GetJSON(t, g.HTTP()+"/history?"+q, nil, nil)
		var e chattest.HTTPError
		if status != 400 || json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
			t.Errorf("GET /history?%s: %d %s", q, status, body)
		}
	}
	if rooms := publicRooms(t, g); strings.Contains(rooms, "chatroomId") {
		t.Fatalf("rooms made by refused requests: %s", rooms)
	}
	c := openClient(t, g, "alice") // still serving
	c.Mark()
}
