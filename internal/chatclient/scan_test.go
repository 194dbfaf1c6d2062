package chatclient

import "testing"

func TestScan(t *testing.T) {
	var o Object
	in := `{"id":1235,"chatroomId":"lobby","type":"message","userId":"alice","sessionId":"s1","message":"hi \"you\"","unixTime":1795341661,"x":{"a":[1,"}"]},"y":null}`
	if err := Scan([]byte(in), &o); err != nil {
		t.Fatal(err)
	}
	if string(o.Type) != "message" || string(o.Room) != "lobby" || string(o.Message) != `hi "you"` || o.ID != 1235 || !o.HasID ||
		string(o.User) != "alice" || string(o.Session) != "s1" {
		t.Fatalf("got %+v", o)
	}
	in = ` { "type" : "joined", "ref":"j0", "chatroomId":"r","recovered":true, "events":[{"id":1,"type":"join"}, {"id":2,"type":"message","message":"]"}] } `
	if err := Scan([]byte(in), &o); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	err := Elements(o.Events, func(e []byte) error {
		var ev Object
		err := Scan(e, &ev)
		ids = append(ids, ev.ID)
		return err
	})
	if err != nil || !o.Recovered || string(o.Ref) != "j0" || len(ids) != 2 || ids[1] != 2 {
		t.Fatalf("err %v o %+v ids %v", err, o, ids)
	}
	if err := Scan([]byte(`{}`), &o); err != nil || o.Type != nil {
		t.Fatalf("empty object: %v %+v", err, o)
	}
}

func TestScanRejectsGarbage(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"a"}`, `{"a":}`, `{"a":"x`, `{"a":1`, `{"a":1,}`, `{"a":[1,2}`, `{a:1}`} {
		var o Object
		if err := Scan([]byte(in), &o); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}
