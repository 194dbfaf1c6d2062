package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
)

func TestBodyRoundTrip(t *testing.T) {
	now := time.Now()
	for _, size := range []int{0, 10, 64, 4000} {
		msg := appendBody(nil, "run1", body{pub: 3, seq: 17, sent: now}, size)
		if size > 40 && len(msg) != size {
			t.Fatalf("size %d: body is %d bytes", size, len(msg))
		}
		b, ok := parseBody(msg, "run1")
		if !ok || b.pub != 3 || b.seq != 17 || !b.sent.Equal(time.Unix(0, now.UnixNano())) {
			t.Fatalf("size %d: %q parsed as %+v %v", size, msg, b, ok)
		}
		if _, ok := parseBody(msg, "run2"); ok {
			t.Fatal("another run's body accepted")
		}
	}
	for _, bad := range []string{"", "run1", "run1 p", "run1 px 1 2", "run1 p1 2", "hello world"} {
		if _, ok := parseBody([]byte(bad), "run1"); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRefRoundTrip(t *testing.T) {
	pos, seq, ok := parseRef(appendRef(nil, 2, 99))
	if !ok || pos != 2 || seq != 99 {
		t.Fatal(pos, seq, ok)
	}
	if _, _, ok := parseRef([]byte("j1")); ok {
		t.Fatal("join ref taken for a message ref")
	}
}

var sampleEvent = []byte(`{"id":123456789,"chatroomId":"load-3","type":"message","userId":"load-7","message":"` +
	string(appendBody(nil, "abc123", body{pub: 7, seq: 1234, sent: time.Now()}, 100)) + `","unixTime":1795341661}`)

// BenchmarkParseObject is the receivers' cost per event; compare with
// BenchmarkEncodingJSON (the cost the scanner avoids).
func BenchmarkParseObject(b *testing.B) {
	var o chatclient.Object
	for range b.N {
		if chatclient.Scan(sampleEvent, &o) != nil {
			b.Fatal("parse")
		}
		if _, ok := parseBody(o.Message, "abc123"); !ok {
			b.Fatal("body")
		}
	}
}

func BenchmarkEncodingJSON(b *testing.B) {
	var ev struct {
		ID         int64  `json:"id"`
		Type       string `json:"type"`
		ChatroomID string `json:"chatroomId"`
		Message    string `json:"message"`
	}
	for range b.N {
		if json.Unmarshal(sampleEvent, &ev) != nil || !strings.HasPrefix(ev.Message, "abc123") {
			b.Fatal("decode")
		}
	}
}
