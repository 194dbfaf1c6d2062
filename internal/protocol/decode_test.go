package protocol

import (
	"strings"
	"testing"
)

func TestDecodeValid(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		frame string
		want  Command
	}{
		{`{"type":"join","chatroomId":"lobby"}`, Command{Type: CmdJoin, ChatroomID: "lobby"}},
		{`{"type":"join","chatroomId":"lobby","since":0,"limit":1}`, Command{Type: CmdJoin, ChatroomID: "lobby", Since: i64(0), Limit: i64(1)}},
		{`{"type":"join","chatroomId":"lobby","since":1200,"limit":1000,"ref":"j1"}`, Command{Type: CmdJoin, ChatroomID: "lobby", Since: i64(1200), Limit: i64(1000), Ref: "j1"}},
		{`{"type":"join","chatroomId":"dm-4f0c2a"}`, Command{Type: CmdJoin, ChatroomID: "dm-4f0c2a"}},
		{`{"type":"leave","chatroomId":"A-z_09"}`, Command{Type: CmdLeave, ChatroomID: "A-z_09"}},
		{`{"type":"message","chatroomId":"lobby","message":"hi","ref":"k1"}`, Command{Type: CmdMessage, ChatroomID: "lobby", Ref: "k1"}},
		{`{"type":"private","userId":"bob"}`, Command{Type: CmdPrivate, UserID: "bob"}},
		{`{"type":"history","chatroomId":"lobby","before":0,"limit":50}`, Command{Type: CmdHistory, ChatroomID: "lobby", Before: i64(0), Limit: i64(50)}},
		{`{"type":"users","ref":"u1"}`, Command{Type: CmdUsers, Ref: "u1"}},
		{`{"type":"rooms"}`, Command{Type: CmdRooms}},
		{`{"type":"auth","token":"a.b.c"}`, Command{Type: CmdAuth, Token: "a.b.c"}},
		{`{"type":"refresh","token":"a.b.c","ref":"t1"}`, Command{Type: CmdRefresh, Token: "a.b.c", Ref: "t1"}},
		{"  {\"type\":\"rooms\"}\n", Command{Type: CmdRooms}}, // white space around the object
		{`{"type":"users","ref":"` + strings.Repeat("r", 64) + `"}`, Command{Type: CmdUsers, Ref: strings.Repeat("r", 64)}},
		{`{"type":"users","ref":"` + strings.Repeat("é", 64) + `"}`, Command{Type: CmdUsers, Ref: strings.Repeat("é", 64)}}, // characters, not bytes
		{`{"type":"users","extra":{"x":[1,2]}}`, Command{Type: CmdUsers}},
		{`{"type":"edit","chatroomId":"r","id":5,"message":"x"}`, Command{Type: CmdEdit, ChatroomID: "r"}},
		{`{"type":"delete","chatroomId":"r","id":5}`, Command{Type: CmdDelete, ChatroomID: "r"}},
		{`{"type":"react","chatroomId":"r","id":5,"emoji":"👍🏽","on":false}`, Command{Type: CmdReact, ChatroomID: "r"}},
		{`{"type":"typing","chatroomId":"r"}`, Command{Type: CmdTyping, ChatroomID: "r"}},
		{`{"type":"read","chatroomId":"r","id":0}`, Command{Type: CmdRead, ChatroomID: "r"}},
		{`{"type":"message","chatroomId":"r","message":"x","data":{"k":"<b>"},"replyTo":7}`, Command{Type: CmdMessage, ChatroomID: "r"}}, // unknown fields are ignored
	}
	for _, tt := range tests {
		c, ref, e := Decode([]byte(tt.frame))
		if e != nil {
			t.Errorf("Decode(%s): %v", tt.frame, e)
			continue
		}
		if ref != tt.want.Ref {
			t.Errorf("Decode(%s): ref %q, want %q", tt.frame, ref, tt.want.Ref)
		}
		if c.Type != tt.want.Type || c.ChatroomID != tt.want.ChatroomID || c.UserID != tt.want.UserID || c.Ref != tt.want.Ref || c.Token != tt.want.Token ||
			!eqPtr(c.Since, tt.want.Since) || !eqPtr(c.Before, tt.want.Before) || !eqPtr(c.Limit, tt.want.Limit) {
			t.Errorf("Decode(%s) = %+v, want %+v", tt.frame, *c, tt.want)
		}
	}
}

func TestDecodeMessageText(t *testing.T) {
	for _, m := range []string{"hi", " padded ", strings.Repeat("x", 4000), strings.Repeat("é", 2000), strings.Repeat("€", 1333) + "x", "a\u3000b"} {
		c, _, e := Decode(Encode(map[string]string{"type": "message", "chatroomId": "r", "message": m}))
		if e != nil {
			t.Errorf("message of %d bytes: %v", len(m), e)
			continue
		}
		if *c.Message != m {
			t.Errorf("message %q decoded as %q", m, *c.Message)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	long := strings.Repeat("r", 65)
	tests := []struct {
		name, frame, code, ref string
	}{
		{"empty frame", ``, CodeBadRequest, ""},
		{"not JSON", `hello`, CodeBadRequest, ""},
		{"truncated", `{"type":"users"`, CodeBadRequest, ""},
		{"array", `[{"type":"users"}]`, CodeBadRequest, ""},
		{"string", `"users"`, CodeBadRequest, ""},
		{"null", `null`, CodeBadRequest, ""},
		{"number", `42`, CodeBadRequest, ""},
		{"type missing", `{"ref":"a"}`, CodeBadRequest, "a"},
		{"type empty", `{"type":"","ref":"a"}`, CodeBadRequest, "a"},
		{"type unknown", `{"type":"shout","ref":"a"}`, CodeBadRequest, "a"},
		{"type ill-typed", `{"type":1,"ref":"a"}`, CodeBadRequest, "a"},
		{"two commands", `{"type":"users"}{"type":"users"}`, CodeBadRequest, ""},
		{"two commands on lines", "{\"type\":\"users\"}\n{\"type\":\"rooms\"}", CodeBadRequest, ""},
		{"trailing garbage", `{"type":"users"} x`, CodeBadRequest, ""},
		{"invalid UTF-8", "{\"type\":\"message\",\"chatroomId\":\"r\",\"message\":\"\xff\"}", CodeBadRequest, ""},
		{"ref too long", `{"type":"users","ref":"` + long + `"}`, CodeBadRequest, ""},
		{"ref too long on a bad command", `{"type":"join","ref":"` + long + `"}`, CodeBadRequest, ""},
		{"ref ill-typed", `{"type":"users","ref":7}`, CodeBadRequest, ""},
		{"join without room", `{"type":"join","ref":"a"}`, CodeBadRequest, "a"},
		{"join room ill-typed", `{"type":"join","chatroomId":5,"ref":"a"}`, CodeBadRequest, "a"},
		{"join limit 0", `{"type":"join","chatroomId":"r","limit":0,"ref":"a"}`, CodeBadRequest, "a"},
		{"join limit 1001", `{"type":"join","chatroomId":"r","limit":1001,"ref":"a"}`, CodeBadRequest, "a"},
		{"join limit negative", `{"type":"join","chatroomId":"r","limit":-5}`, CodeBadRequest, ""},
		{"join limit fraction", `{"type":"join","chatroomId":"r","limit":1.5,"ref":"a"}`, CodeBadRequest, "a"},
		{"join limit string", `{"type":"join","chatroomId":"r","limit":"5","ref":"a"}`, CodeBadRequest, "a"},
		{"join since negative", `{"type":"join","chatroomId":"r","since":-1,"ref":"a"}`, CodeBadRequest, "a"},
		{"join room with dot", `{"type":"join","chatroomId":"a.b","ref":"a"}`, CodeInvalidRoom, "a"},
		{"join room star", `{"type":"join","chatroomId":"*"}`, CodeInvalidRoom, ""},
		{"join room gt", `{"type":"join","chatroomId":">"}`, CodeInvalidRoom, ""},
		{"join room space", `{"type":"join","chatroomId":"a b"}`, CodeInvalidRoom, ""},
		{"join room unicode", `{"type":"join","chatroomId":"café"}`, CodeInvalidRoom, ""},
		{"join room 65", `{"type":"join","chatroomId":"` + strings.Repeat("a", 65) + `"}`, CodeInvalidRoom, ""},
		{"leave without room", `{"type":"leave"}`, CodeBadRequest, ""},
		{"leave bad room", `{"type":"leave","chatroomId":"a/b"}`, CodeInvalidRoom, ""},
		{"message without text", `{"type":"message","chatroomId":"r","ref":"a"}`, CodeBadRequest, "a"},
		{"message text null", `{"type":"message","chatroomId":"r","message":null}`, CodeBadRequest, ""},
		{"message text number", `{"type":"message","chatroomId":"r","message":5,"ref":"a"}`, CodeBadRequest, "a"},
		{"message empty", `{"type":"message","chatroomId":"r","message":"","ref":"a"}`, CodeBadRequest, "a"},
		{"message spaces", `{"type":"message","chatroomId":"r","message":" \t\r\n "}`, CodeBadRequest, ""},
		{"message ideographic space", `{"type":"message","chatroomId":"r","message":"\u3000\u00a0\u2003"}`, CodeBadRequest, ""},
		{"message too large", `{"type":"message","chatroomId":"r","message":"` + strings.Repeat("x", 4001) + `","ref":"a"}`, CodeTooLarge, "a"},
		{"message too large in bytes", `{"type":"message","chatroomId":"r","message":"` + strings.Repeat("é", 2000) + `x"}`, CodeTooLarge, ""},
		{"message without room", `{"type":"message","message":"hi"}`, CodeBadRequest, ""},
		{"message bad room", `{"type":"message","chatroomId":"a.b","message":"hi"}`, CodeInvalidRoom, ""},
		{"private without user", `{"type":"private","ref":"a"}`, CodeBadRequest, "a"},
		{"auth without token", `{"type":"auth","ref":"a"}`, CodeBadRequest, "a"},
		{"auth token empty", `{"type":"auth","token":""}`, CodeBadRequest, ""},
		{"refresh without token", `{"type":"refresh","ref":"t"}`, CodeBadRequest, "t"},
		{"refresh token ill-typed", `{"type":"refresh","token":{"jwt":"x"},"ref":"t"}`, CodeBadRequest, "t"},
		{"private bad user", `{"type":"private","userId":"bo b","ref":"a"}`, CodeInvalidUser, "a"},
		{"private user 65", `{"type":"private","userId":"` + strings.Repeat("b", 65) + `"}`, CodeInvalidUser, ""},
		{"history before negative", `{"type":"history","chatroomId":"r","before":-1,"ref":"a"}`, CodeBadRequest, "a"},
		{"history limit 0", `{"type":"history","chatroomId":"r","limit":0}`, CodeBadRequest, ""},
		{"history limit 1001", `{"type":"history","chatroomId":"r","limit":1001}`, CodeBadRequest, ""},
		{"history bad room", `{"type":"history","chatroomId":"x>"}`, CodeInvalidRoom, ""},
		{"data not an object", `{"type":"message","chatroomId":"r","message":"hi","data":[1],"ref":"a"}`, CodeBadRequest, "a"},
		{"data null", `{"type":"message","chatroomId":"r","message":"hi","data":null}`, CodeBadRequest, ""},
		{"data string", `{"type":"message","chatroomId":"r","message":"hi","data":"x"}`, CodeBadRequest, ""},
		{"data over 4096", `{"type":"message","chatroomId":"r","message":"hi","data":{"x":"` + strings.Repeat("d", 4089) + `"}}`, CodeBadRequest, ""},
		{"replyTo 0", `{"type":"message","chatroomId":"r","message":"hi","replyTo":0}`, CodeBadRequest, ""},
		{"replyTo string", `{"type":"message","chatroomId":"r","message":"hi","replyTo":"5"}`, CodeBadRequest, ""},
		{"edit without id", `{"type":"edit","chatroomId":"r","message":"hi","ref":"a"}`, CodeBadRequest, "a"},
		{"edit without text", `{"type":"edit","chatroomId":"r","id":5}`, CodeBadRequest, ""},
		{"edit empty text", `{"type":"edit","chatroomId":"r","id":5,"message":" "}`, CodeBadRequest, ""},
		{"edit too large", `{"type":"edit","chatroomId":"r","id":5,"message":"` + strings.Repeat("x", 4001) + `"}`, CodeTooLarge, ""},
		{"edit bad room", `{"type":"edit","chatroomId":"a.b","id":5,"message":"x"}`, CodeInvalidRoom, ""},
		{"delete id 0", `{"type":"delete","chatroomId":"r","id":0}`, CodeBadRequest, ""},
		{"delete id negative", `{"type":"delete","chatroomId":"r","id":-3}`, CodeBadRequest, ""},
		{"delete id fraction", `{"type":"delete","chatroomId":"r","id":1.5}`, CodeBadRequest, ""},
		{"react without emoji", `{"type":"react","chatroomId":"r","id":5,"on":true}`, CodeBadRequest, ""},
		{"react without on", `{"type":"react","chatroomId":"r","id":5,"emoji":"x"}`, CodeBadRequest, ""},
		{"react empty emoji", `{"type":"react","chatroomId":"r","id":5,"emoji":"","on":true}`, CodeBadRequest, ""},
		{"react emoji with space", `{"type":"react","chatroomId":"r","id":5,"emoji":"a b","on":true}`, CodeBadRequest, ""},
		{"react emoji 33 bytes", `{"type":"react","chatroomId":"r","id":5,"emoji":"` + strings.Repeat("x", 33) + `","on":true}`, CodeBadRequest, ""},
		{"typing without room", `{"type":"typing"}`, CodeBadRequest, ""},
		{"read without id", `{"type":"read","chatroomId":"r"}`, CodeBadRequest, ""},
		{"read negative", `{"type":"read","chatroomId":"r","id":-1}`, CodeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ref, e := Decode([]byte(tt.frame))
			if e == nil {
				t.Fatalf("Decode(%q) = %+v, want error %s", tt.frame, c, tt.code)
			}
			if c != nil {
				t.Errorf("Decode returned a command with an error")
			}
			if e.Code != tt.code || ref != tt.ref {
				t.Errorf("Decode(%q): code %s ref %q (%s), want code %s ref %q", tt.frame, e.Code, ref, e.Message, tt.code, tt.ref)
			}
			if e.Message == "" {
				t.Errorf("error without a message")
			}
		})
	}
}

func TestValidName(t *testing.T) {
	good := []string{"a", "Z", "0", "_", "-", "lobby", "dm-4f0c2a", "A-z_09", strings.Repeat("a", 64)}
	bad := []string{"", " ", "a b", "a.b", "a*", "*", ">", "a>", "a/b", "a\\b", "a\x00", "café", "ü", "a\n", "\t", "#", "$SYS",
		strings.Repeat("a", 65), "a\u3000"}
	for _, s := range good {
		if !ValidName(s) {
			t.Errorf("ValidName(%q) = false", s)
		}
	}
	for _, s := range bad {
		if ValidName(s) {
			t.Errorf("ValidName(%q) = true", s)
		}
	}
}

func TestCheckMessage(t *testing.T) {
	tests := []struct{ msg, code string }{
		{"hi", ""},
		{" hi ", ""},
		{"\u200bx", ""},                 // zero width space is not white space
		{strings.Repeat("x", 4000), ""}, // exactly the limit
		{strings.Repeat("é", 2000), ""}, // 4000 bytes, 2000 characters
		{strings.Repeat("é", 2000) + "x", CodeTooLarge},
		{strings.Repeat("x", 4001), CodeTooLarge},
		{strings.Repeat("😀", 1001), CodeTooLarge}, // 4004 bytes, 1001 characters
		{"", CodeBadRequest},
		{" ", CodeBadRequest},
		{"\t\n\r\v\f", CodeBadRequest},
		{"\u3000", CodeBadRequest},
		{"\u00a0\u0085\u2028\u2029\u205f", CodeBadRequest},
		{strings.Repeat(" ", 5000), CodeBadRequest},
		{"a\xffb", CodeBadRequest},
		{"\xc3", CodeBadRequest},
	}
	for _, tt := range tests {
		e := CheckMessage(tt.msg)
		got := ""
		if e != nil {
			got = e.Code
		}
		if got != tt.code {
			t.Errorf("CheckMessage(%.20q… %d bytes) = %q, want %q", tt.msg, len(tt.msg), got, tt.code)
		}
	}
}

func eqPtr(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func TestDataAtTheLimit(t *testing.T) {
	data := `{"x":"` + strings.Repeat("d", 4088) + `"}` // 4096 bytes
	c, _, e := Decode([]byte(`{"type":"message","chatroomId":"r","message":"hi","data":` + data + `}`))
	if e != nil {
		t.Fatal(e)
	}
	if string(c.Data) != data {
		t.Fatalf("data changed")
	}
}

func TestPeek(t *testing.T) {
	on := true
	tests := []struct {
		ev     Event
		typ    string
		target uint64
	}{
		{Event{ChatroomID: "r", Type: TypeMessage, UserID: "a", Message: `"type":"edit","target":5`}, TypeMessage, 0},
		{Event{ChatroomID: "r", Type: TypeEdit, Target: 1235, UserID: "a", Message: "x"}, TypeEdit, 1235},
		{Event{ChatroomID: "r", Type: TypeDelete, Target: 7, UserID: "a"}, TypeDelete, 7},
		{Event{ChatroomID: "r", Type: TypeReaction, Target: 9, Emoji: "x", On: &on}, TypeReaction, 9},
		{Event{ChatroomID: "r", Type: TypeJoin, UserID: "a", SessionID: "s"}, TypeJoin, 0},
		{Event{Type: "other"}, "", 0},
	}
	for _, tt := range tests {
		b := WithID(tt.ev.Marshal(), 42)
		typ, target := Peek(b)
		if typ != tt.typ || target != tt.target {
			t.Errorf("Peek(%s) = %q %d, want %q %d", b, typ, target, tt.typ, tt.target)
		}
	}
}

func TestPeekUser(t *testing.T) {
	for _, tt := range []struct {
		ev   Event
		want string
	}{
		{Event{ChatroomID: "r", Type: TypeMessage, UserID: "alice", Message: `"userId":"mallory"`, Data: []byte(`{"userId":"eve"}`)}, "alice"},
		{Event{ChatroomID: "r", Type: TypeEdit, Target: 4, UserID: "bob", Message: "x"}, "bob"},
		{Event{Type: TypeClose}, ""},
	} {
		if got := PeekUser(WithID(tt.ev.Marshal(), 9)); got != tt.want {
			t.Errorf("PeekUser(%s) = %q, want %q", tt.ev.Marshal(), got, tt.want)
		}
	}
}
