package hub

import (
	"slices"
	"testing"
)

// In a steady flow queueing and taking reuse their slices: nothing is made, and the writer
// gets every frame, in order, once.
func TestSteadyQueueMakesNothing(t *testing.T) {
	s := NewSession("u", "s", "c", 1<<20, func() {}, func(int, string) {})
	frames := []*Frame{{Data: []byte("a")}, {Data: []byte("b")}, {Data: []byte("c")}}
	var taken, got []*Frame
	for range 3 { // warm up: the two slices find their size
		for _, f := range frames {
			s.Send(f)
		}
		taken = s.Take(taken[:0])
		s.Written(len(taken), 0)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			s.Send(f)
		}
		taken = s.Take(taken[:0])
		got = append(got[:0], taken...)
		s.Written(len(taken), 0)
	})
	if allocs != 0 {
		t.Errorf("queueing three frames and taking them made %v allocations", allocs)
	}
	if !slices.Equal(got, frames) {
		t.Errorf("took %d frames, want the three in order", len(got))
	}
	if !s.Empty() || s.Queued() != 0 {
		t.Errorf("after taking all: empty %v, %d bytes queued", s.Empty(), s.Queued())
	}
}
