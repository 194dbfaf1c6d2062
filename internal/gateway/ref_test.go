package gateway_test

import (
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// Any ref, line breaks and all, is echoed as sent and deduplicates a resend.
func TestAnyRefIsEchoedAndDeduplicated(t *testing.T) {
	t.Parallel()
	g := chattest.StartGateway(t, chattest.NATS(t), gateway.Config{})
	c := chattest.Dial(t, g.URL(), "alice", "a1")
	c.Expect("welcome")
	c.Join("lobby")
	for _, ref := range []string{"k1", "two words", "line\r\nbreak: Nats-Msg-Id: x", "ünïcødé ✓", "a:b:c"} {
		var ids []uint64
		for range 2 {
			c.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "hi " + ref, "ref": ref})
			ack := c.Until("ack", nil)
			if ack.Ref != ref {
				t.Fatalf("ack ref %q, want %q", ack.Ref, ref)
			}
			ids = append(ids, ack.ID)
		}
		if ids[0] != ids[1] {
			t.Fatalf("ref %q: resend stored again (%d, %d)", ref, ids[0], ids[1])
		}
	}
	// Refs that differ only where a header would change them are different messages.
	seen := map[uint64]string{}
	for _, ref := range []string{"a b", "a\nb", "a\r\nb", "a\tb", "x:y", "x;y"} {
		c.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "m " + ref, "ref": ref})
		ack := c.Until("ack", nil)
		if other, dup := seen[ack.ID]; dup {
			t.Fatalf("refs %q and %q were taken for one message (id %d)", other, ref, ack.ID)
		}
		seen[ack.ID] = ref
	}
}
