package control

import (
	"testing"
)

// A notice after a quiet interval goes out at once; notices right behind it gather into one
// frame, in order, for the next tick.
func TestCoalescerSendsFirstAtOnceAndGathersBursts(t *testing.T) {
	var c coalescer
	var sent []string
	send := func(data []byte) { sent = append(sent, string(data)) }
	c.add([]byte(`{"n":1}`), send)
	c.add([]byte(`{"n":2}`), send)
	c.add([]byte(`{"n":3}`), send)
	if len(sent) != 1 || sent[0] != `{"n":1}` {
		t.Fatalf("sent at once: %q, want only the first", sent)
	}
	f := c.take()
	if f == nil || string(f) != "{\"n\":2}\n{\"n\":3}" {
		t.Fatalf("gathered: %v", f)
	}
	if c.take() != nil {
		t.Fatal("a second take found notices")
	}
	c.add([]byte(`{"n":4}`), send) // within the interval of the last flush: gathered
	if len(sent) != 1 {
		t.Fatalf("sent %q during the interval", sent)
	}
}
