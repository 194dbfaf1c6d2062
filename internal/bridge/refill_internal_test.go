package bridge

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/natstest"
)

// Events a feed reads back from the stream, because the live feed lost them, are counted
// as refilled; a read that finds nothing new counts nothing.
func TestFillCountsWhatItReadsBack(t *testing.T) {
	ctx := t.Context()
	st, err := history.Open(ctx, natstest.JetStream(t, natstest.Server(t, "")), history.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for i := range 3 {
		payload := fmt.Appendf(nil, `{"type":"message","chatroomId":"lobby","userId":"ann","message":"m%d"}`, i)
		id, _, err := st.Append(ctx, "lobby", payload, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	refilled, delivered := 0, 0
	f := NewFeeds(nil, st, slog.New(slog.DiscardHandler), Counts{
		Refilled: func(n int) { refilled += n }, Delivered: func(n int) { delivered += n }})
	fd := &feed{room: "lobby", owner: f, last: ids[0]} // the first was delivered live

	out, err := fd.fill(ctx, ids[2], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].ID != ids[1] || out[1].ID != ids[2] || fd.last != ids[2] {
		t.Fatalf("filled %+v up to %d, want ids %v", out, fd.last, ids[1:])
	}
	if refilled != 2 || delivered != 0 {
		t.Fatalf("refilled %d, delivered %d; want 2 and 0 (the fill hands nothing to the hub)", refilled, delivered)
	}
	if out, err = fd.fill(ctx, ids[2], nil); err != nil || len(out) != 0 || refilled != 2 {
		t.Fatalf("a second fill: %d events, err %v, refilled %d; want none, and still 2", len(out), err, refilled)
	}
}
