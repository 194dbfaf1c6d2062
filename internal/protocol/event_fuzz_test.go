package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzWithID checks that WithID never panics, leaves anything that is not an object alone,
// and turns a stored payload (a compact JSON object without "id") into the same object
// with "id" added.
func FuzzWithID(f *testing.F) {
	ev := Event{ChatroomID: "lobby", Type: TypeMessage, UserID: "alice", Message: "hi \"there\" {", UnixTime: 1795341661}
	for _, s := range []string{string(ev.Marshal()), `{}`, `{"a":{"id":1}}`, `{"type":"close","unixTime":1}`, ``, `{`, `[]`, `null`, `"{"`} {
		f.Add([]byte(s), uint64(1235))
	}
	f.Fuzz(func(t *testing.T, stored []byte, id uint64) {
		out := WithID(stored, id)
		if len(stored) < 2 || stored[0] != '{' {
			if !bytes.Equal(out, stored) {
				t.Fatalf("WithID(%q) = %q, want it unchanged", stored, out)
			}
			return
		}
		var in map[string]json.RawMessage
		var compact bytes.Buffer
		if json.Unmarshal(stored, &in) != nil || in == nil || json.Compact(&compact, stored) != nil || !bytes.Equal(compact.Bytes(), stored) {
			return // not a stored payload
		}
		if _, has := in["id"]; has {
			return
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("WithID(%q) = %q: %v", stored, out, err)
		}
		var gotID uint64
		if json.Unmarshal(got["id"], &gotID) != nil || gotID != id {
			t.Fatalf("WithID(%q, %d) = %q", stored, id, out)
		}
		delete(got, "id")
		if len(got) != len(in) {
			t.Fatalf("WithID(%q) = %q: fields changed", stored, out)
		}
		for k, v := range in {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("WithID(%q) = %q: field %q changed", stored, out, k)
			}
		}
	})
}

// FuzzEventWithID checks the round trip of an event through Marshal and WithID.
func FuzzEventWithID(f *testing.F) {
	f.Add("lobby", "message", "alice", "", "hi", int64(1795341661), uint64(1))
	f.Add("", "close", "", "", "", int64(0), uint64(0))
	f.Add("dm-4f0c2a", "join", "bob", "s1", "\u2028\"\\</script>", int64(-1), uint64(1<<63))
	f.Fuzz(func(t *testing.T, room, typ, user, session, msg string, unix int64, id uint64) {
		in := Event{ChatroomID: room, Type: typ, UserID: user, SessionID: session, Message: msg, UnixTime: unix}
		out := WithID(in.Marshal(), id)
		var got Event
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if bytes.ContainsAny(out, "\n\r") {
			t.Fatalf("a raw newline in %q: it would split a gateway frame", out)
		}
		want := in
		want.ID = id
		// Invalid UTF-8 is replaced by U+FFFD on the way out; compare what JSON keeps.
		var norm Event
		json.Unmarshal(want.Marshal(), &norm)
		norm.ID = id
		if !reflect.DeepEqual(got, norm) {
			t.Fatalf("round trip: %+v, want %+v", got, norm)
		}
	})
}

// Encoding stored payloads with their ids in one pass gives what WithID then EncodeEvents
// gives.
func FuzzEncodeEventsWithIDs(f *testing.F) {
	f.Add([]byte(`{"chatroomId":"lobby","type":"message"}`), []byte(`{}`), uint64(7))
	f.Add([]byte(`not json`), []byte(`{"a":1}`), uint64(0))
	f.Fuzz(func(t *testing.T, a, b []byte, id uint64) {
		head := History{Type: TypeHistory, Ref: "r", ChatroomID: "lobby"}
		ids := []uint64{id, id + 1}
		got := EncodeEventsWithIDs(head, [][]byte{a, b}, func(i int) uint64 { return ids[i] })
		want := EncodeEvents(head, [][]byte{WithID(a, ids[0]), WithID(b, ids[1])})
		if !bytes.Equal(got, want) {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
}
