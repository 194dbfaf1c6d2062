package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/protocol"
)

func TestMessageID(t *testing.T) {
	for key, want := range map[string]string{
		"order-42":              "api:lobby:order-42",
		"a b":                   "api:lobby:sha256-",
		"a:b":                   "api:lobby:sha256-",
		"line\nbreak":           "api:lobby:sha256-",
		strings.Repeat("k", 65): "api:lobby:sha256-",
	} {
		if got := messageID("lobby", key); !strings.HasPrefix(got, want) || strings.ContainsAny(got, " \n\r") {
			t.Errorf("key %q: %q", key, got)
		}
	}
	if messageID("lobby", "a b") == messageID("lobby", "a  b") {
		t.Fatal("two keys, one message id")
	}
}

func TestKeys(t *testing.T) {
	k := newKeys(ParseKeys("# keys\nfirst-key\n\n second-key \n"))
	for key, want := range map[string]bool{"first-key": true, "second-key": true, "": false, "first-ke": false, "first-keyy": false, "#keys": false} {
		if k.match(key) != want {
			t.Errorf("match(%q) = %v", key, !want)
		}
	}
}

// FuzzDecode: no body panics a decoder, and a body that decodes and validates holds only
// what the rules allow.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"chatroomId":"lobby","message":"hi"}`,
		`{"chatroomId":"lobby","message":"hi","userId":"bob","data":{"a":[1,{"b":null}]},"replyTo":3,"idempotencyKey":"k"}`,
		`{"chatroomId":"lobby","before":5,"since":1,"limit":10}`, `{"chatroomID":"x"}`, `{"data":"x"}`, `[1]`, `{"a":1} {}`,
		`{"chatroomId":"dm-1","message":" ","data":  {  }  }`, "{\"message\":\"\xff\"}",
		`{"chatroomId":"lobby","mode":"members","members":["alice","bob"],"moderators":["mod1"]}`,
		`{"chatroomId":"lobby","mode":null,"members":null}`, `{"chatroomId":"lobby","members":["a b"]}`,
		`{"userId":"troll","on":true}`, `{"userId":"troll","on":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p publishRequest
		if firstError(decode(body, &p), p.validate()) == nil {
			if !protocol.ValidName(p.ChatroomID) || p.Message == nil || protocol.CheckMessage(*p.Message) != nil {
				t.Fatalf("publish %q accepted as %+v", body, p)
			}
			if p.Data != nil && (len(p.Data) > MaxData || p.Data[0] != '{' || !json.Valid(p.Data) || strings.ContainsAny(string(p.Data), "\n\r")) {
				t.Fatalf("publish %q: data %q", body, p.Data)
			}
			if len((&protocol.Event{Data: p.Data}).Marshal()) == 0 {
				t.Fatal("no encoding")
			}
		}
		var h historyRequest
		if firstError(decode(body, &h), h.validate()) == nil {
			if !protocol.ValidName(h.ChatroomID) || h.Limit != nil && (*h.Limit < 1 || *h.Limit > protocol.MaxLimit) {
				t.Fatalf("history %q accepted as %+v", body, h)
			}
		}
		var rr roomRequest
		if firstError(decode(body, &rr), rr.validate()) == nil {
			if !protocol.ValidName(rr.ChatroomID) || rr.Mode != nil && !control.ValidMode(*rr.Mode) {
				t.Fatalf("room %q accepted as %+v", body, rr)
			}
			for _, l := range []*[]string{rr.Members, rr.Moderators} {
				for i := 0; l != nil && i < len(*l); i++ {
					if !protocol.ValidName((*l)[i]) {
						t.Fatalf("room %q: user %q accepted", body, (*l)[i])
					}
				}
			}
		}
		var id roomID
		if firstError(decode(body, &id), room(id.ChatroomID)) == nil && !protocol.ValidName(id.ChatroomID) {
			t.Fatalf("room.get %q accepted as %+v", body, id)
		}
		var b banRequest
		_ = decode(body, &b)
		var d disconnectRequest
		_ = decode(body, &d)
		var tr tokenRequest
		_ = decode(body, &tr)
	})
}
