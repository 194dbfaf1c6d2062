package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Tests of protocol 1.1's richer messages, edits, deletes and reactions.

// sendCmd sends a command with a fresh ref and returns its reply, and the sender's own copy
// of the stored event when the reply is an ack (they come in either order).
func sendCmd(t *testing.T, c *chattest.Client, cmd map[string]any) (reply, own chattest.Msg) {
	t.Helper()
	ref := newRef("c")
	cmd["ref"] = ref
	c.Send(cmd)
	var pending []chattest.Msg
	for {
		m := c.Next()
		switch {
		case m.Ref == ref:
			reply = m
		case m.ID != 0 && m.Ref == "" && m.ChatroomID == cmd["chatroomId"]:
			pending = append(pending, m)
		}
		if reply.Type == "" {
			continue
		}
		if reply.Type != "ack" {
			return reply, chattest.Msg{}
		}
		for _, p := range pending {
			if p.ID == reply.ID {
				return reply, p
			}
		}
	}
}

// stored sends a command that must be acked, and returns the stored event as its sender
// received it live.
func stored(t *testing.T, c *chattest.Client, cmd map[string]any) chattest.Msg {
	t.Helper()
	reply, own := sendCmd(t, c, cmd)
	if reply.Type != "ack" || reply.ID == 0 || own.ID != reply.ID {
		t.Fatalf("%v: %s", cmd, reply.Raw)
	}
	return own
}

// refusedCmd sends a command that must be refused with code.
func refusedCmd(t *testing.T, c *chattest.Client, code string, cmd map[string]any) {
	t.Helper()
	reply, _ := sendCmd(t, c, cmd)
	if reply.Type != "error" || reply.Code != code || reply.Message == "" {
		t.Fatalf("%v: want error %s, got %s", cmd, code, reply.Raw)
	}
}

// ownEvent returns the sender's own copy of the event an ack names, from what came before
// the ack or after it.
func ownEvent(t *testing.T, c *chattest.Client, ack chattest.Msg, before []chattest.Msg) chattest.Msg {
	t.Helper()
	for _, m := range before {
		if m.ID == ack.ID && m.Ref == "" {
			return m
		}
	}
	for {
		if m := c.Next(); m.ID == ack.ID && m.Ref == "" {
			return m
		}
	}
}

// rawJS connects to ns for reading the stream directly.
func rawJS(t *testing.T, ns *server.Server) jetstream.Stream {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), subject.Stream)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestMessageDataAndReplyTo(t *testing.T) {
	g := gw(t, gateway.Config{})
	a := connect(t, g, "alice", "a1")
	first := join(t, a, "lobby")
	join(t, a, "other")
	sent := "{ \"b\": \"<i>&amp;</i>\",\n \"n\": [1, 2.50, {\"x\":null}], \"u\":\"\\u00e9\" }"
	ref := newRef("k")
	a.SendRaw([]byte(`{"type":"message","chatroomId":"lobby","message":"hi","ref":"` + ref + `","data":` + sent + `}`))
	ack, skipped := await(t, a, ref)
	if ack.Type != "ack" {
		t.Fatalf("message with data: %s", ack.Raw)
	}
	m := ownEvent(t, a, ack, skipped)
	want := `{"b":"<i>&amp;</i>","n":[1,2.50,{"x":null}],"u":"\u00e9"}`
	if string(m.Data) != want || m.ReplyTo != 0 {
		t.Fatalf("data delivered as %s, want %s", m.Data, want)
	}
	r := stored(t, a, map[string]any{"type": "message", "chatroomId": "lobby", "message": "re", "replyTo": m.ID})
	if r.ReplyTo != m.ID || r.Data != nil {
		t.Fatalf("reply %s", r.Raw)
	}
	evs := hist(t, a, "lobby")
	if got := evs[len(evs)-2]; string(got.Data) != want {
		t.Fatalf("history data %s", got.Raw)
	}
	if got := evs[len(evs)-1]; got.ReplyTo != m.ID {
		t.Fatalf("history replyTo %s", got.Raw)
	}

	other := stored(t, a, map[string]any{"type": "message", "chatroomId": "other", "message": "elsewhere"})
	own := first.Events[len(first.Events)-1] // alice's join of lobby: not a message
	for _, id := range []uint64{other.ID, own.ID, r.ID + 1000} {
		refusedCmd(t, a, "not_found", map[string]any{"type": "message", "chatroomId": "lobby", "message": "x", "replyTo": id})
	}
	refusedCmd(t, a, "bad_request", map[string]any{"type": "message", "chatroomId": "lobby", "message": "x",
		"data": map[string]string{"k": strings.Repeat("d", 4090)}})
	refusedCmd(t, a, "bad_request", map[string]any{"type": "message", "chatroomId": "lobby", "message": "x", "data": []int{1}})
	quiet(t, a, "refused messages store nothing")
}

// TestEditDeleteReactTwoGateways runs every command over two gateways: replies, stored
// events seen live on both, refusals, and a delete that erases.
func TestEditDeleteReactTwoGateways(t *testing.T) {
	g1, g2, ns := gw2(t, gateway.Config{})
	a, b := connect(t, g1, "alice", "a1"), connect(t, g2, "bob", "b1")
	carol := connect(t, g1, "carol", "c1")
	join(t, a, "lobby")
	join(t, b, "lobby")
	event(t, a, "lobby", "join", "bob", "b1")
	join(t, carol, "elsewhere")

	msg := stored(t, a, map[string]any{"type": "message", "chatroomId": "lobby", "message": "secret text"})
	b.Until("message", func(m chattest.Msg) bool { return m.ID == msg.ID })

	edit := stored(t, a, map[string]any{"type": "edit", "chatroomId": "lobby", "id": msg.ID, "message": "secret edited"})
	if edit.Type != "edit" || edit.Target != msg.ID || edit.Message != "secret edited" || edit.UserID != "alice" {
		t.Fatalf("edit %s", edit.Raw)
	}
	if m := b.Until("edit", nil); m.ID != edit.ID || m.Target != msg.ID {
		t.Fatalf("bob got %s", m.Raw)
	}
	react := stored(t, b, map[string]any{"type": "react", "chatroomId": "lobby", "id": msg.ID, "emoji": "👍", "on": true})
	for _, m := range []chattest.Msg{react, a.Until("reaction", nil)} {
		if m.ID != react.ID || m.Target != msg.ID || m.Emoji != "👍" || m.On == nil || !*m.On || m.UserID != "bob" {
			t.Fatalf("reaction %s", m.Raw)
		}
	}
	unreact := stored(t, b, map[string]any{"type": "react", "chatroomId": "lobby", "id": msg.ID, "emoji": "👍", "on": false})
	if unreact.On == nil || *unreact.On {
		t.Fatalf("reaction off %s", unreact.Raw)
	}

	// Refusals.
	refusedCmd(t, b, "forbidden", map[string]any{"type": "edit", "chatroomId": "lobby", "id": msg.ID, "message": "mine now"})
	refusedCmd(t, b, "forbidden", map[string]any{"type": "delete", "chatroomId": "lobby", "id": msg.ID})
	for _, cmd := range []map[string]any{
		{"type": "edit", "chatroomId": "lobby", "id": msg.ID, "message": "x"},
		{"type": "delete", "chatroomId": "lobby", "id": msg.ID},
		{"type": "react", "chatroomId": "lobby", "id": msg.ID, "emoji": "x", "on": true},
	} {
		refusedCmd(t, carol, "not_member", cmd)
	}
	for _, emoji := range []string{"", "a b", strings.Repeat("x", 33), "\u3000"} {
		refusedCmd(t, b, "bad_request", map[string]any{"type": "react", "chatroomId": "lobby", "id": msg.ID, "emoji": emoji, "on": true})
	}
	for _, id := range []uint64{edit.ID, react.ID, msg.ID + 10_000} { // not messages, or unknown
		refusedCmd(t, a, "not_found", map[string]any{"type": "edit", "chatroomId": "lobby", "id": id, "message": "x"})
		refusedCmd(t, a, "not_found", map[string]any{"type": "delete", "chatroomId": "lobby", "id": id})
	}
	refusedCmd(t, a, "too_large", map[string]any{"type": "edit", "chatroomId": "lobby", "id": msg.ID, "message": strings.Repeat("x", 4001)})

	// The delete: acked once erased, seen live on both gateways.
	ref := newRef("d")
	a.Send(map[string]any{"type": "delete", "chatroomId": "lobby", "id": msg.ID, "ref": ref})
	ack, skipped := await(t, a, ref)
	if ack.Type != "ack" {
		t.Fatalf("delete: %s", ack.Raw)
	}
	for _, m := range []chattest.Msg{ownEvent(t, a, ack, skipped), b.Until("delete", nil)} {
		if m.ID != ack.ID || m.Target != msg.ID || m.UserID != "alice" {
			t.Fatalf("delete event %s", m.Raw)
		}
	}
	// The same delete sent again (a lost ack) answers the same id; another is not_found.
	a.Send(map[string]any{"type": "delete", "chatroomId": "lobby", "id": msg.ID, "ref": ref})
	if again, _ := await(t, a, ref); again.Type != "ack" || again.ID != ack.ID {
		t.Fatalf("delete sent again: %s, first %s", again.Raw, ack.Raw)
	}
	refusedCmd(t, a, "not_found", map[string]any{"type": "delete", "chatroomId": "lobby", "id": msg.ID})
	refusedCmd(t, a, "not_found", map[string]any{"type": "edit", "chatroomId": "lobby", "id": msg.ID, "message": "x"})
	refusedCmd(t, b, "not_found", map[string]any{"type": "react", "chatroomId": "lobby", "id": msg.ID, "emoji": "x", "on": true})
	refusedCmd(t, a, "not_found", map[string]any{"type": "message", "chatroomId": "lobby", "message": "x", "replyTo": msg.ID})

	gone := func(where string, evs []chattest.Msg) {
		t.Helper()
		seen := map[uint64]bool{}
		for _, e := range evs {
			seen[e.ID] = true
			if strings.Contains(string(e.Raw), "secret") {
				t.Fatalf("%s: erased text in %s", where, e.Raw)
			}
		}
		if seen[msg.ID] || seen[edit.ID] || !seen[ack.ID] || !seen[react.ID] {
			t.Fatalf("%s: message %d or edit %d still there, or the tombstone %d or reaction %d missing: %v",
				where, msg.ID, edit.ID, ack.ID, react.ID, chattestIDs(evs))
		}
	}
	// Fresh joins on both gateways (served from their windows), history, GET /history.
	for i, g := range []*chattest.Gateway{g1, g2} {
		c := connect(t, g, "dave", fmt.Sprintf("d%d", i))
		gone("joined on "+g.ID(), join(t, c, "lobby").Events)
		gone("history on "+g.ID(), hist(t, c, "lobby"))
		var page struct{ Events []chattest.Msg }
		get(t, g.HTTP()+"/history?chatroomId=lobby", &page)
		gone("GET /history on "+g.ID(), page.Events)
	}
	// A fresh gateway's first read comes from the stream.
	g3 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-3"})
	e := connect(t, g3, "erin", "e1")
	gone("joined on a fresh gateway", join(t, e, "lobby").Events)

	// The stream no longer holds the message or its edit.
	st := rawJS(t, ns)
	for _, id := range []uint64{msg.ID, edit.ID} {
		if m, err := st.GetMsg(context.Background(), id); err == nil {
			t.Fatalf("event %d still stored: %s", id, m.Data)
		}
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for id := info.State.FirstSeq; id <= info.State.LastSeq; id++ {
		if m, err := st.GetMsg(context.Background(), id); err == nil && strings.Contains(string(m.Data), "secret") {
			t.Fatalf("event %d holds the erased text: %s", id, m.Data)
		}
	}
}

func chattestIDs(evs []chattest.Msg) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// TestResumeAcrossEditAndDelete: a client that rejoins with since learns of the edit and
// the delete it missed; the deleted message is not sent.
func TestResumeAcrossEditAndDelete(t *testing.T) {
	g1, g2, _ := gw2(t, gateway.Config{})
	a, b := connect(t, g1, "alice", "a1"), connect(t, g2, "bob", "b1")
	join(t, a, "lobby")
	first := stored(t, a, map[string]any{"type": "message", "chatroomId": "lobby", "message": "before"})
	j := join(t, b, "lobby")
	since := j.Events[len(j.Events)-1].ID
	do(t, b, "left", map[string]any{"type": "leave", "chatroomId": "lobby"})

	edit := stored(t, a, map[string]any{"type": "edit", "chatroomId": "lobby", "id": first.ID, "message": "before, fixed"})
	kept := stored(t, a, map[string]any{"type": "message", "chatroomId": "lobby", "message": "kept"})
	doomed := stored(t, a, map[string]any{"type": "message", "chatroomId": "lobby", "message": "doomed"})
	doomedEdit := stored(t, a, map[string]any{"type": "edit", "chatroomId": "lobby", "id": doomed.ID, "message": "doomed!"})
	del := stored(t, a, map[string]any{"type": "delete", "chatroomId": "lobby", "id": doomed.ID})

	j = join(t, b, "lobby", "since", since)
	if !j.Recovered {
		t.Fatalf("not recovered: %s", j.Raw)
	}
	var got []uint64
	for _, e := range j.Events {
		if e.Type != "leave" && e.Type != "join" {
			got = append(got, e.ID)
		}
	}
	want := []uint64{edit.ID, kept.ID, del.ID}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("resumed with %v (all %v), want %v; doomed %d and its edit %d erased", got, chattestIDs(j.Events), want, doomed.ID, doomedEdit.ID)
	}
}

// TestDeleteUnderAnotherCommandsRef: a delete sent with the ref of a message the session
// stored a moment ago is that message's duplicate for the stream: nothing is deleted, and
// the client is told.
func TestDeleteUnderAnotherCommandsRef(t *testing.T) {
	g := gw(t, gateway.Config{})
	a := connect(t, g, "alice", "a1")
	join(t, a, "lobby")
	keep := stored(t, a, map[string]any{"type": "message", "chatroomId": "lobby", "message": "keep me"})
	a.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "ref owner", "ref": "same"})
	if ack, _ := await(t, a, "same"); ack.Type != "ack" {
		t.Fatalf("message: %s", ack.Raw)
	}
	a.Send(map[string]any{"type": "delete", "chatroomId": "lobby", "id": keep.ID, "ref": "same"})
	if m, _ := await(t, a, "same"); m.Type != "error" || m.Code != "bad_request" {
		t.Fatalf("delete under a message's ref: %s", m.Raw)
	}
	evs := hist(t, a, "lobby")
	if got := messages(evs); len(got) != 2 || got[0] != "keep me" {
		t.Fatalf("history after the refused delete: %v", got)
	}
	for _, e := range evs {
		if e.Type == "delete" {
			t.Fatalf("a delete was stored: %s", e.Raw)
		}
	}
}
