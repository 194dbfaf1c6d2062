package history

import (
	"bytes"
	"slices"
	"testing"

	"github.com/chathub/chathub/internal/protocol"
)

func TestGetEraseReferring(t *testing.T) {
	st, _ := open(t, Config{})
	ctx := testContext(t)
	appendEv := func(room string, ev protocol.Event) uint64 {
		t.Helper()
		id, _, err := st.Append(ctx, room, ev.Marshal(), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	msg := appendEv("a", protocol.Event{ChatroomID: "a", Type: protocol.TypeMessage, UserID: "u", Message: "secret"})
	other := appendEv("b", protocol.Event{ChatroomID: "b", Type: protocol.TypeMessage, UserID: "u", Message: "x"})
	e1 := appendEv("a", protocol.Event{ChatroomID: "a", Type: protocol.TypeEdit, Target: msg, UserID: "u", Message: "secret 2"})
	appendEv("a", protocol.Event{ChatroomID: "a", Type: protocol.TypeEdit, Target: msg + 100, UserID: "u", Message: "y"})
	appendEv("b", protocol.Event{ChatroomID: "b", Type: protocol.TypeEdit, Target: msg, UserID: "u", Message: "z"})
	on := true
	appendEv("a", protocol.Event{ChatroomID: "a", Type: protocol.TypeReaction, Target: msg, UserID: "u", Emoji: "x", On: &on})
	e2 := appendEv("a", protocol.Event{ChatroomID: "a", Type: protocol.TypeEdit, Target: msg, UserID: "u", Message: "secret 3"})

	if ev, ok, err := st.Get(ctx, "a", msg); err != nil || !ok || !bytes.Contains(ev.Data, []byte("secret")) {
		t.Fatalf("Get = %s %v %v", ev.Data, ok, err)
	}
	if _, ok, err := st.Get(ctx, "a", other); err != nil || ok {
		t.Fatalf("Get of another room's event: ok %v err %v", ok, err)
	}
	if _, ok, err := st.Get(ctx, "a", 9999); err != nil || ok {
		t.Fatalf("Get of an unknown id: ok %v err %v", ok, err)
	}
	edits, err := st.Referring(ctx, "a", msg, protocol.TypeEdit)
	if err != nil || !slices.Equal(edits, []uint64{e1, e2}) {
		t.Fatalf("Referring = %v %v, want [%d %d]", edits, err, e1, e2)
	}
	for _, id := range []uint64{msg, e1, e2} {
		if err := st.Erase(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Erase(ctx, msg); err != nil {
		t.Fatalf("erasing again: %v", err)
	}
	if _, ok, err := st.Get(ctx, "a", msg); err != nil || ok {
		t.Fatalf("erased event still there: ok %v err %v", ok, err)
	}
	evs, _, err := st.After(ctx, "a", 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if bytes.Contains(ev.Data, []byte("secret")) {
			t.Fatalf("erased text still read: %s", ev.Data)
		}
	}
}

func TestStoredAs(t *testing.T) {
	st, _ := open(t, Config{})
	ctx := testContext(t)
	if _, ok, err := st.StoredAs(ctx, "a", []byte(`{}`), "m:x"); err != nil || ok {
		t.Fatalf("StoredAs before any append: ok %v err %v", ok, err)
	}
	id, _, err := st.Append(ctx, "a", []byte(`{"n":1}`), "m:x", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.StoredAs(ctx, "a", []byte(`{"n":2}`), "m:x")
	if err != nil || !ok || got != id {
		t.Fatalf("StoredAs = %d %v %v, want %d", got, ok, err, id)
	}
	if last, err := st.LastID(ctx, "a"); err != nil || last != id {
		t.Fatalf("a probe was stored: last %d err %v", last, err)
	}
}

// BenchmarkReferring finds the edits of the oldest message of the room "big" (10,000
// events spread over the benchmark stream): the worst case of a delete, which reads every
// event of the room after its target.
func BenchmarkReferring(b *testing.B) {
	st := benchStore(b)
	ctx := b.Context()
	for b.Loop() {
		if _, err := st.Referring(ctx, "big", bench.big[0], protocol.TypeEdit); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCountUnread counts the messages after a marker half way through "big", up to
// 100: one room's share of a rooms reply with unread counts.
func BenchmarkCountUnread(b *testing.B) {
	st := benchStore(b)
	ctx := b.Context()
	at := bench.big[len(bench.big)/2]
	for b.Loop() {
		n, err := st.Count(ctx, "big", at, protocol.MaxUnread, func(data []byte) bool {
			typ, _ := protocol.Peek(data)
			return typ == protocol.TypeMessage && protocol.PeekUser(data) != "user-1"
		})
		if err != nil || n != protocol.MaxUnread {
			b.Fatal(n, err)
		}
	}
}
