package history

import (
	"context"
)

// span is the part of one room a backward read covers.
type span struct {
	subj  string
	first uint64 // the room's oldest id
	hi    uint64 // the read's inclusive upper bound
	count uint64 // the room's events in [first, hi], as counted when located
	above uint64 // the room's events after hi, as counted when located
}

// locate finds the room's first id, its events up to upto (0: all) and their count, in two
// concurrent round trips (a third when upto cuts the room). ok is false when none is <= upto.
func (s *Store) locate(ctx context.Context, subj string, upto uint64) (sp span, ok bool, err error) {
	var first, last msg
	var okFirst, okLast bool
	err = parallel(
		func() (err error) { first, okFirst, err = s.probe(ctx, subj, 1); return err },
		func() (err error) { last, okLast, err = s.last(ctx, subj); return err },
	)
	if err != nil || !okFirst || !okLast || (upto != 0 && upto < first.seq) {
		return span{}, false, err
	}
	sp = span{subj: subj, first: first.seq, hi: last.seq, count: first.pending + 1}
	if upto == 0 || upto >= last.seq {
		return sp, true, nil
	}
	next, ok, err := s.probe(ctx, subj, upto+1)
	if err != nil {
		return span{}, false, err
	}
	sp.hi = upto
	if ok {
		sp.above = next.pending + 1
		sp.count -= min(sp.count-1, sp.above)
	}
	return sp, true, nil
}

// tail returns the newest limit events of sp, oldest first. It reads backwards from sp.hi in
// windows sized from the room's density (ids per event), each window one batch when the guess
// is right, until it has limit events or reaches the room's first.
func (s *Store) tail(ctx context.Context, sp span, limit int) ([]Stored, error) {
	var wins [][]Stored // newest window first
	want, hi, above := limit, sp.hi, sp.above
	gap := float64(sp.hi-sp.first+1) / float64(max(sp.count, 1))
	for want > 0 && hi >= sp.first {
		from := back(hi, sp.first, gap*float64(want)*1.25+1)
		evs, from, n, err := s.window(ctx, sp.subj, from, hi, want, above)
		if err != nil {
			return nil, err
		}
		wins = append(wins, evs)
		want -= len(evs)
		if from <= sp.first {
			break
		}
		gap = nextGap(gap, hi-from+1, n)
		hi, above = from-1, above+uint64(n)
	}
	return join(wins), nil
}

// window reads the events in [from, hi] and returns the newest want of them, the number n
// it read, and the start it read from. When the window holds far more than want, which its
// first event tells, it starts again later (at most twice), from the density seen there.
func (s *Store) window(ctx context.Context, subj string, from, hi uint64, want int, above uint64) (evs []Stored, start uint64, n int, err error) {
	for attempt := 0; ; attempt++ {
		var retry uint64
		evs = evs[:0]
		err = s.scan(ctx, subj, from, hi, want+want/4+4, func(m msg) bool {
			if len(evs) == 0 && attempt < 2 {
				if retry = later(m, hi, want, above); retry > from {
					return false
				}
				retry = 0
			}
			evs = append(evs, Stored{ID: m.seq, Data: m.data})
			return true
		})
		if err != nil {
			return nil, from, 0, err
		}
		if retry == 0 {
			n = len(evs)
			return evs[max(0, n-want):], from, n, nil
		}
		from = retry
	}
}

// later returns where a window ending at hi should start instead, given m, its first event,
// when the window would hold far more than want events; otherwise 0.
func later(m msg, hi uint64, want int, above uint64) uint64 {
	inRange := m.pending + 1 - min(above, m.pending)
	if inRange <= uint64(2*want+16) {
		return 0
	}
	gap := float64(hi-m.seq+1) / float64(inRange)
	return back(hi, m.seq, gap*float64(want)*1.25+1)
}

// back returns hi-d+1 (the start of a window of d ids ending at hi), not below floor.
func back(hi, floor uint64, d float64) uint64 {
	span := uint64(d)
	if span >= hi-floor+1 {
		return floor
	}
	return hi - span + 1
}

// nextGap is the density to size the next window with, after a window of ids held n events.
func nextGap(gap float64, ids uint64, n int) float64 {
	if n == 0 {
		return gap * 4
	}
	return max(gap, float64(ids)/float64(n))
}

// join concatenates windows given newest first into one slice, oldest first.
func join(wins [][]Stored) []Stored {
	total := 0
	for _, w := range wins {
		total += len(w)
	}
	out := make([]Stored, 0, total)
	for i := len(wins) - 1; i >= 0; i-- {
		out = append(out, wins[i]...)
	}
	return out
}
