package main

// verdict says what one delivery of a (room, publisher) sequence number was.
type verdict int

const (
	fresh      verdict = iota // first delivery, in order or after a gap
	late                      // first delivery of a number below one already seen
	duplicated                // a number delivered before
)

// track follows the sequence numbers (1, 2, 3, ...) of one publisher in one
// room as one receiver sees them. It keeps the highest number seen and the set
// of numbers below it not seen yet (the gaps), so memory stays small when
// delivery is healthy: the gap set is empty then.
type track struct {
	top  uint64              // highest number seen
	gaps map[uint64]struct{} // numbers below top not seen yet
}

// add records one delivery of seq and classifies it.
func (t *track) add(seq uint64) verdict {
	switch {
	case seq > t.top:
		if seq > t.top+1 {
			if t.gaps == nil {
				t.gaps = make(map[uint64]struct{})
			}
			for s := t.top + 1; s < seq; s++ {
				t.gaps[s] = struct{}{}
			}
		}
		t.top = seq
		return fresh
	case seq == 0:
		return duplicated // never sent; treat as noise
	}
	if _, ok := t.gaps[seq]; ok {
		delete(t.gaps, seq)
		return late
	}
	return duplicated
}

// missing returns how many of the numbers 1..n were never delivered.
func (t *track) missing(n uint64) uint64 {
	if n <= t.top {
		var m uint64
		for s := range t.gaps {
			if s <= n {
				m++
			}
		}
		return m
	}
	return n - t.top + uint64(len(t.gaps))
}
