package gateway_test

import (
	"bytes"
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// A writer that lingers (the process short of CPU) writes nothing for the linger after a
// small frame, and then everything that came meanwhile in one frame.
func TestLingeringWriterWritesWhatCameMeanwhileInOneFrame(t *testing.T) {
	g := gw(t, gateway.Config{Linger: -1}) // no watcher: the test sets the linger
	// Every writer of the gateway lingers: the publisher's replies wait too.
	const linger = time.Second
	gateway.SetLinger(g.Gateway, linger)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()

	pub := connect(t, g, "pub", "p")
	join(t, pub, "lobby")
	ws, _, err := chattest.DialRaw(ctx, g.URL(), url.Values{"user": {"reader"}, "session": {"s"}}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func() ([]byte, time.Time) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return data, time.Now()
	}
	if data, _ := read(); !bytes.Contains(data, []byte(`"type":"welcome"`)) {
		t.Fatalf("first frame: %s", data)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"join","chatroomId":"lobby","limit":1}`)); err != nil {
		t.Fatal(err)
	}
	var joinedAt time.Time
	for joinedAt.IsZero() {
		data, at := read()
		if bytes.Contains(data, []byte(`"type":"joined"`)) {
			joinedAt = at
		}
	}
	const n = 3
	sendN(pub, "lobby", n, 10)
	acked(t, pub, n)

	data, at := read()
	if got := bytes.Count(data, []byte(`"type":"message"`)); got != n {
		t.Fatalf("the first frame after the joined reply holds %d of the %d messages: %s", got, n, data)
	}
	// The joined reply was a small frame: nothing is written for the linger after it (less
	// whatever the reply itself took to arrive).
	if gap := at.Sub(joinedAt); gap < linger/2 {
		t.Fatalf("messages written %v after the joined reply, within the linger (%v)", gap, linger)
	}
}
