package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"testing"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/nats-io/nats.go"
)

// appendEvents stores n messages in room and returns their ids.
func appendEvents(t *testing.T, st *history.Store, room string, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for i := range n {
		payload := fmt.Appendf(nil, `{"type":"message","chatroomId":"%s","userId":"ann","message":"m%d"}`, room, i)
		id, _, err := st.Append(t.Context(), room, payload, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func openStore(t *testing.T) *history.Store {
	t.Helper()
	st, err := history.Open(t.Context(), natstest.JetStream(t, natstest.Server(t, "")), history.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Events a feed reads back from the stream are counted as refilled; a read that finds
// nothing new for the room counts nothing.
func TestFillCountsWhatItReadsBack(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	ids := appendEvents(t, st, "lobby", 3)
	other := appendEvents(t, st, "other", 1)[0]
	refilled := 0
	f := NewFeeds(nil, st, slog.New(slog.DiscardHandler), Counts{Refilled: func(n int) { refilled += n }})
	fd := &feed{room: "lobby", owner: f, last: ids[0]} // the first was delivered live

	out, err := fd.fill(ctx, ids[2], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].ID != ids[1] || out[1].ID != ids[2] || fd.last != ids[2] {
		t.Fatalf("filled %+v up to %d, want ids %v", out, fd.last, ids[1:])
	}
	if refilled != 2 {
		t.Fatalf("refilled %d, want 2", refilled)
	}
	// The stream moved on, in another room only: the read finds nothing for this one.
	if out, err = fd.fill(ctx, other, nil); err != nil || len(out) != 0 || refilled != 2 || fd.last != other {
		t.Fatalf("a fill past the room's last: %d events, err %v, refilled %d, last %d; want none, and still 2, at %d",
			len(out), err, refilled, fd.last, other)
	}
}

// pagedStore reads the real stream a page of one event at a time; once failAfter reads
// have succeeded, every read fails.
type pagedStore struct {
	*history.Store
	failAfter int // reads that succeed before the failures start; negative: never fail
}

var errRead = errors.New("test: stream read failed")

func (p *pagedStore) After(ctx context.Context, room string, since, upto uint64, _ int) ([]history.Stored, bool, error) {
	if p.failAfter == 0 {
		return nil, false, errRead
	}
	p.failAfter--
	return p.Store.After(ctx, room, since, upto, 1)
}

// recordingSink keeps the ids the feed delivers.
type recordingSink struct{ ids []uint64 }

func (s *recordingSink) Reset(string, uint64, uint64) error { return nil }
func (s *recordingSink) Deliver(_ string, _ uint64, evs []hub.Event) error {
	for _, ev := range evs {
		s.ids = append(s.ids, ev.ID)
	}
	return nil
}
func (s *recordingSink) Typing(string, string, *hub.Frame) {}

// A read from the stream that fails partway, in a catch-up or in filling the gap before a
// live event (told by its Nats-Last-Sequence, or, without one, all the room stored before
// it), delivers what it read before the failure: the feed's retry reads on from
// there, so nothing is skipped and nothing comes twice. (Dropped, the events read before
// the failure were never delivered.)
func TestFillThatFailsPartwayLosesNothing(t *testing.T) {
	for _, via := range []string{"catch-up", "live event after a gap", "live event without its previous id"} {
		t.Run(via, func(t *testing.T) {
			ctx := t.Context()
			st := openStore(t)
			ids := appendEvents(t, st, "lobby", 4)
			paged := &pagedStore{Store: st, failAfter: 1}
			sink := &recordingSink{}
			f := NewFeeds(nil, st, slog.New(slog.DiscardHandler), Counts{})
			f.store = paged
			fd := &feed{room: "lobby", owner: f, sink: sink, last: ids[0], reset: true}

			var err error
			if via == "catch-up" {
				err = fd.catchUp(ctx)
			} else {
				live := &nats.Msg{Header: nats.Header{}, Data: []byte(`{"type":"message","chatroomId":"lobby","userId":"ann","message":"m3"}`)}
				live.Header.Set(nats.JSSequence, strconv.FormatUint(ids[3], 10))
				if via == "live event after a gap" {
					live.Header.Set(nats.JSLastSequence, strconv.FormatUint(ids[2], 10))
				}
				err = fd.handle(ctx, live, make(chan *nats.Msg))
			}
			if !errors.Is(err, errRead) {
				t.Fatalf("with a failing read: %v, want %v", err, errRead)
			}
			paged.failAfter = -1 // the stream answers again: the retry's catch-up
			if err := fd.catchUp(ctx); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sink.ids, ids[1:]) {
				t.Fatalf("delivered %v, want %v", sink.ids, ids[1:])
			}
		})
	}
}
