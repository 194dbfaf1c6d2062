package gateway

import (
	"bytes"
	"testing"
)

// clientFrame is a masked frame as a client sends it.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	var h []byte
	switch n := len(payload); {
	case n < 126:
		h = []byte{b0, 0x80 | byte(n)}
	case n < 1<<16:
		h = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		h = []byte{b0, 0x80 | 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	h = append(h, 1, 2, 3, 4) // the mask; the tracker never unmasks
	return append(h, payload...)
}

// The tracker says "between messages" only where every byte fed ends a whole frame and no
// message is left open: never inside a header, a payload or a fragmented message, whatever
// the chunks the bytes come in; control frames between fragments keep the message open.
func TestFrameTrackerStopsOnlyBetweenMessages(t *testing.T) {
	const (
		cont, text, ping, pong = 0x0, 0x1, 0x9, 0xA
	)
	type step struct {
		frame   []byte
		between bool // after the frame
	}
	steps := []step{
		{clientFrame(true, text, []byte(`{"type":"users"}`)), true},
		{clientFrame(true, pong, []byte("1")), true},
		{clientFrame(false, text, bytes.Repeat([]byte("a"), 200)), false},
		{clientFrame(true, ping, nil), false}, // a control frame inside a message
		{clientFrame(false, cont, bytes.Repeat([]byte("b"), 70000)), false},
		{clientFrame(true, cont, []byte("c")), true},
		{clientFrame(true, text, nil), true},
		{clientFrame(true, 0x2, bytes.Repeat([]byte("d"), 300)), true},
	}
	var stream []byte
	var ends []int // where each frame ends in stream
	for _, s := range steps {
		stream = append(stream, s.frame...)
		ends = append(ends, len(stream))
	}
	for _, chunk := range []int{1, 2, 3, 7, 13, 512, len(stream)} {
		var tr frameTracker
		if !tr.between() {
			t.Fatal("a new tracker is not between messages")
		}
		next := 0 // the next frame's end to reach
		for at := 0; at < len(stream); {
			n := min(chunk, len(stream)-at)
			tr.feed(stream[at : at+n])
			at += n
			for next < len(ends) && ends[next] < at {
				next++
			}
			want := next < len(ends) && ends[next] == at && steps[next].between
			if got := tr.between(); got != want {
				t.Fatalf("chunks of %d, after %d bytes: between = %v, want %v", chunk, at, got, want)
			}
		}
	}
}

// A header beyond frameLen's bound cannot be followed: the tracker never says "between"
// again (coder/websocket refuses the frame and the connection ends).
func TestFrameTrackerGivesUpOnHugeHeaders(t *testing.T) {
	var tr frameTracker
	tr.feed([]byte{0x81, 0x80 | 127, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 'x'})
	if tr.between() {
		t.Fatal("between messages after a header it cannot follow")
	}
}
