package protocol

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

var codes = map[string]bool{CodeBadRequest: true, CodeInvalidRoom: true, CodeInvalidUser: true, CodeTooLarge: true}

// FuzzDecode checks that Decode never panics and that whatever it accepts obeys the
// protocol's rules, and whatever it refuses is refused with a client error.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","chatroomId":"lobby","since":1200,"limit":50,"ref":"j1"}`,
		`{"type":"leave","chatroomId":"lobby"}`,
		`{"type":"message","chatroomId":"lobby","message":"hi","ref":"k1"}`,
		`{"type":"message","chatroomId":"lobby","message":"\u3000"}`,
		`{"type":"private","userId":"bob"}`,
		`{"type":"history","chatroomId":"lobby","before":1200,"limit":50}`,
		`{"type":"users","ref":"u1"}`,
		`{"type":"rooms"}`,
		`{"type":"auth","token":"a.b.c"}`,
		`{"type":"refresh","token":"a.b.c","ref":"t1"}`,
		`{"type":"refresh","token":7}`,
		`{"type":"auth"}`,
		`{"type":"message","chatroomId":"lobby","message":"hi","data":{"a":[1]},"replyTo":3}`,
		`{"type":"edit","chatroomId":"lobby","id":1235,"message":"hi!","ref":"e1"}`,
		`{"type":"delete","chatroomId":"lobby","id":1235}`,
		`{"type":"react","chatroomId":"lobby","id":1235,"emoji":"👍","on":true}`,
		`{"type":"typing","chatroomId":"lobby"}`,
		`{"type":"read","chatroomId":"lobby","id":0}`,
		`{"type":"users"}{"type":"users"}`,
		`{"type":"join","chatroomId":"a.b"}`,
		`{"type":"join","chatroomId":"lobby","limit":1001}`,
		"{\"type\":\"message\",\"chatroomId\":\"r\",\"message\":\"\xff\"}",
		`null`, ``, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		c, ref, e := Decode(frame)
		if utf8.RuneCountInString(ref) > MaxRefLen {
			t.Fatalf("echoed ref over %d characters: %q", MaxRefLen, ref)
		}
		if e != nil {
			if c != nil {
				t.Fatalf("a command and an error: %+v %v", c, e)
			}
			if !codes[e.Code] || e.Message == "" {
				t.Fatalf("unexpected error %+v", e)
			}
			return
		}
		if c == nil {
			t.Fatal("no command and no error")
		}
		checkCommand(t, c)
		if ref != c.Ref {
			t.Fatalf("ref %q, command ref %q", ref, c.Ref)
		}
	})
}

func checkCommand(t *testing.T, c *Command) {
	t.Helper()
	if utf8.RuneCountInString(c.Ref) > MaxRefLen || !utf8.ValidString(c.Ref) {
		t.Fatalf("bad ref accepted: %q", c.Ref)
	}
	needsRoom := map[string]bool{CmdJoin: true, CmdLeave: true, CmdMessage: true, CmdHistory: true,
		CmdEdit: true, CmdDelete: true, CmdReact: true, CmdTyping: true, CmdRead: true}
	switch c.Type {
	case CmdJoin, CmdLeave, CmdMessage, CmdHistory, CmdUsers, CmdRooms, CmdTyping:
	case CmdEdit, CmdDelete, CmdReact:
		if c.ID == nil || *c.ID < 1 {
			t.Fatalf("%s without a target accepted", c.Type)
		}
		if c.Type == CmdReact && (c.Emoji == nil || c.On == nil || CheckEmoji(*c.Emoji) != nil) {
			t.Fatalf("bad reaction accepted: %+v", c)
		}
		if c.Type == CmdEdit && (c.Message == nil || CheckMessage(*c.Message) != nil) {
			t.Fatalf("bad edit accepted: %+v", c)
		}
	case CmdRead:
		if c.ID == nil || *c.ID < 0 {
			t.Fatalf("read without a marker accepted")
		}
	case CmdPrivate:
		if !ValidName(c.UserID) {
			t.Fatalf("private with bad userId accepted: %q", c.UserID)
		}
	case CmdAuth, CmdRefresh:
		if c.Token == "" {
			t.Fatalf("%s without a token accepted", c.Type)
		}
	default:
		t.Fatalf("unknown type accepted: %q", c.Type)
	}
	if needsRoom[c.Type] && !ValidName(c.ChatroomID) {
		t.Fatalf("bad chatroomId accepted: %q", c.ChatroomID)
	}
	if c.Type == CmdMessage {
		if len(c.Data) > MaxDataLen || c.ReplyTo != nil && *c.ReplyTo < 1 {
			t.Fatalf("bad data or replyTo accepted: %+v", c)
		}
		if c.Message == nil || CheckMessage(*c.Message) != nil {
			t.Fatalf("bad message accepted: %v", c.Message)
		}
		m := *c.Message
		if !utf8.ValidString(m) || strings.TrimSpace(m) == "" || len(m) > MaxMessageLen {
			t.Fatalf("bad message accepted: %q", m)
		}
	}
	if c.Limit != nil && (*c.Limit < 1 || *c.Limit > MaxLimit) {
		t.Fatalf("limit %d accepted", *c.Limit)
	}
	if c.Since != nil && *c.Since < 0 || c.Before != nil && *c.Before < 0 {
		t.Fatalf("negative since/before accepted: %+v", c)
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// FuzzValidName checks ValidName against the rule written as a regular expression, and that
// nothing it accepts can disturb a NATS subject or a KV key.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"lobby", "dm-4f0c2a", "", "a.b", "*", ">", "a b", "café", strings.Repeat("a", 64), strings.Repeat("a", 65), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ValidName(s)
		if want := nameRE.MatchString(s); got != want {
			t.Fatalf("ValidName(%q) = %v, want %v", s, got, want)
		}
		if got && strings.ContainsAny(s, ".*> \t\r\n/\\") {
			t.Fatalf("ValidName(%q) accepts a subject special", s)
		}
		e := CheckMessage(s)
		if e == nil && (!utf8.ValidString(s) || strings.TrimSpace(s) == "" || len(s) > MaxMessageLen) {
			t.Fatalf("CheckMessage(%q) accepted", s)
		}
		if e != nil && e.Code != CodeBadRequest && e.Code != CodeTooLarge {
			t.Fatalf("CheckMessage(%q): code %s", s, e.Code)
		}
	})
}
