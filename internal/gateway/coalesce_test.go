package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// frames reads one WebSocket connection frame by frame: what the coalescing of presence is
// about (the objects a frame carries) is invisible to a client that reads objects.
type frames struct {
	t  *testing.T
	ws *websocket.Conn
}

type object struct {
	Type    string `json:"type"`
	UserID  string `json:"userId"`
	Message string `json:"message"`
	Ref     string `json:"ref"`
}

// next returns the objects of the next frame.
func (f frames) next() []object {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	_, data, err := f.ws.Read(ctx)
	if err != nil {
		f.t.Fatalf("read: %v", err)
	}
	var out []object
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		var o object
		if err := json.Unmarshal(line, &o); err != nil {
			f.t.Fatalf("frame %q: %v", data, err)
		}
		out = append(out, o)
	}
	return out
}

// until reads frames until one holds an object that match accepts, and returns that frame.
func (f frames) until(match func(object) bool) []object {
	f.t.Helper()
	for {
		fr := f.next()
		for _, o := range fr {
			if match(o) {
				return fr
			}
		}
	}
}

// TestPresenceWaitsForTheNextMessage: with a long --presence-coalesce, a member who got
// presence gets the next presence only with the next message, ahead of it, in its frame.
func TestPresenceWaitsForTheNextMessage(t *testing.T) {
	g := gw(t, gateway.Config{Coalesce: time.Hour})
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, g.URL()+"?user=alice&session=a1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	alice := frames{t, ws}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"join","chatroomId":"lobby","ref":"j"}`)); err != nil {
		t.Fatal(err)
	}
	alice.until(func(o object) bool { return o.Type == "joined" })

	// Bob's join is queued for alice before his message: by then she has had presence
	// (his join, or her own or bob's online notice, whichever came first, went at once).
	bob := connect(t, g, "bob", "b1")
	join(t, bob, "lobby")
	post(t, bob, "lobby", "one")
	alice.until(func(o object) bool { return o.Type == "message" && o.Message == "one" })

	// So carol's join waits, and bob's next message brings it along, ahead of it.
	carol := connect(t, g, "carol", "c1")
	join(t, carol, "lobby")
	post(t, bob, "lobby", "two")
	fr := alice.until(func(o object) bool {
		return o.Type == "message" && o.Message == "two" || o.Type == "join" && o.UserID == "carol"
	})
	joinAt, msgAt := -1, -1
	for i, o := range fr {
		switch {
		case o.Type == "join" && o.UserID == "carol":
			joinAt = i
		case o.Type == "message" && o.Message == "two":
			msgAt = i
		}
	}
	if joinAt < 0 || msgAt < 0 || joinAt > msgAt {
		t.Fatalf("carol's join should come in the frame of bob's next message, ahead of it: %+v", fr)
	}
}
