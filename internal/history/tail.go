package history

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// span is the part of one room a backward read covers.
type span struct {
	subj  string
	floor uint64 // no event of the room is older: the stream's first sequence
	hi    uint64 // the read's inclusive upper bound
	count uint64 // the room's events, as counted when located
	above int64  // the room's events after hi, -1 when not known
}

// locate finds the room's newest event, its count and the stream's first sequence, in two
// concurrent round trips that touch no message block but the newest. ok is false when the
// room has no event <= upto (0: no bound).
func (s *Store) locate(ctx context.Context, subj string, upto uint64) (sp span, ok bool, err error) {
	var last msg
	var si *jetstream.StreamInfo
	err = parallel(
		func() (err error) { last, ok, err = s.last(ctx, subj); return err },
		func() (err error) { si, err = s.stream.Info(ctx, jetstream.WithSubjectFilter(subj)); return err },
	)
	if err != nil || !ok || (upto != 0 && upto < si.State.FirstSeq) {
		return span{}, false, err
	}
	sp = span{subj: subj, floor: si.State.FirstSeq, hi: last.seq, count: si.State.Subjects[subj]}
	if upto != 0 && upto < last.seq {
		sp.hi, sp.above = upto, -1
	}
	return sp, sp.count > 0, nil
}

// tail returns the newest limit events of sp, oldest first. It reads backwards from sp.hi in
// windows sized from the room's density (ids per event), each window one batch when the guess
// is right, until it has limit events or reaches the floor.
func (s *Store) tail(ctx context.Context, sp span, limit int) ([]Stored, error) {
	var wins [][]Stored // newest window first
	want, hi, above, read := limit, sp.hi, sp.above, uint64(0)
	gap := float64(sp.hi-sp.floor+1) / float64(max(sp.count, 1))
	for want > 0 && hi >= sp.floor {
		from := back(hi, sp.floor, gap*float64(want)*1.25+1)
		if above >= 0 && uint64(above)+read+uint64(want) >= sp.count {
			from = sp.floor // what is left fits in want: read it all
		}
		w, err := s.window(ctx, sp.subj, from, hi, want, above)
		if err != nil {
			return nil, err
		}
		wins = append(wins, w.evs)
		want -= len(w.evs)
		if w.start <= sp.floor {
			break
		}
		if above < 0 {
			above = w.above
		}
		if above >= 0 {
			above += int64(w.n)
		}
		read += uint64(w.n)
		gap = nextGap(gap, hi-w.start+1, w.n)
		hi = w.start - 1
	}
	return join(wins), nil
}
