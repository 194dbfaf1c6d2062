package history

import "context"

// win is what one backward window read.
type win struct {
	evs   []Stored // the newest want events of [start, hi]
	start uint64   // the window read [start, hi]
	n     int      // events in [start, hi]
	above int64    // the room's events after hi, -1 when not seen
}

// window reads the events in [from, hi] and keeps the newest want. When the window holds far
// more than want (its first event's count tells, when above is known, or its first full batch
// does), it starts again later, at most twice, from the density seen.
func (s *Store) window(ctx context.Context, subj string, from, hi uint64, want int, above int64) (win, error) {
	for attempt := 0; ; attempt++ {
		w, retry, err := s.windowOnce(ctx, subj, from, hi, want, above, attempt < 2)
		if err != nil || retry == 0 {
			return w, err
		}
		from = retry
	}
}

// windowOnce reads [from, hi] in batches; retry, when not 0, is a better start.
func (s *Store) windowOnce(ctx context.Context, subj string, from, hi uint64, want int, above int64, check bool) (w win, retry uint64, err error) {
	hint := want + want/4 + 4
	w = win{start: from, above: -1}
	for pos := from; pos <= hi; {
		var last msg
		got, stop := 0, false
		err := s.fetch(ctx, subj, pos, hint, func(m msg) bool {
			if m.seq > hi {
				stop = true
				return false
			}
			if check && len(w.evs) == 0 && above >= 0 {
				if retry = later(m, hi, want, uint64(above)); retry > from {
					return false
				}
				retry = 0
			}
			w.evs, last, got = append(w.evs, Stored{ID: m.seq, Data: m.data}), m, got+1
			return true
		})
		if err != nil || retry != 0 {
			return win{}, retry, err
		}
		if got > 0 {
			w.above = int64(last.pending)
		}
		if stop || (got > 0 && last.seq >= hi) {
			break
		}
		if got == 0 || last.pending == 0 {
			// The replica that answered has nothing more of subj: ask the leader (leader.go).
			if got > 0 {
				pos = last.seq + 1
			}
			m, ok, err := s.leaderNext(ctx, subj, pos, hi)
			if err != nil {
				return win{}, 0, err
			}
			if !ok {
				break
			}
			w.evs, w.above = append(w.evs, Stored{ID: m.seq, Data: m.data}), -1
			pos = m.seq + 1
			continue
		}
		if r := jump(pos, last.seq, hi, got, want); check && r > 0 {
			return win{}, r, nil
		}
		pos = last.seq + 1
	}
	w.n = len(w.evs)
	w.evs = w.evs[max(0, w.n-want):]
	return w, 0, nil
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

// jump returns where a window ending at hi should start instead, after a full batch of got
// events over [pos, last], when (last, hi] likely still holds more than want; otherwise 0.
func jump(pos, last, hi uint64, got, want int) uint64 {
	gap := float64(last-pos+1) / float64(got)
	if float64(hi-last)/gap <= float64(want)*1.25 {
		return 0
	}
	return back(hi, last+1, gap*float64(want)*1.25+1)
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
