package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/chathub/chathub/internal/subject"
	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
)

// openRefused dials with query q and returns the type and code of each object the gateway
// sends, then its close code.
func openRefused(t *testing.T, g *chattest.Gateway, q url.Values) (frames []string, code websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := chattest.DialRaw(ctx, g.URL(), q, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return frames, websocket.CloseStatus(err)
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			var o struct{ Type, Code string }
			if json.Unmarshal(line, &o) == nil {
				frames = append(frames, o.Type+" "+o.Code)
			}
		}
	}
}

// NATS unreachable when a connection opens: presence cannot be recorded, which may pass by
// itself, so the client is told to try again later (unavailable, 1013), not that the
// gateway failed (1011).
func TestOpenWithNATSDownIsRetryLater(t *testing.T) {
	ns := chattest.NATS(t)
	g := chattest.StartGateway(t, ns, gateway.Config{})
	gone := g.NC.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	ns.Shutdown()
	ns.WaitForShutdown()
	select {
	case <-gone:
	case <-time.After(chattest.Timeout):
		t.Fatal("the gateway's NATS connection did not notice the server was gone")
	}
	frames, code := openRefused(t, g, url.Values{"user": {"alice"}})
	if want := []string{"welcome ", "error unavailable"}; !slices.Equal(frames, want) {
		t.Errorf("frames %q, want %q", frames, want)
	}
	if code != 1013 {
		t.Errorf("closed with %d, want 1013", code)
	}
}

// A presence record that cannot be read is no passing condition: 1011.
func TestOpenWithACorruptRecordIsInternal(t *testing.T) {
	ns := chattest.NATS(t)
	g := chattest.StartGateway(t, ns, gateway.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := natstest.JetStream(t, ns).KeyValue(ctx, subject.PresenceBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "session.alice.s", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	frames, code := openRefused(t, g, url.Values{"user": {"alice"}, "session": {"s"}})
	if want := []string{"welcome "}; !slices.Equal(frames, want) {
		t.Errorf("frames %q, want %q", frames, want)
	}
	if code != 1011 {
		t.Errorf("closed with %d, want 1011", code)
	}
}
