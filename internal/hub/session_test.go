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

// A busy session (more frames between two takes than an idle one keeps room for) reuses its
// two slices, the queue's and the writer's, in turn: steady traffic allocates nothing.
// Once the writer takes nothing, the burst's slice is let go.
func TestBusyQueueReusesItsSlices(t *testing.T) {
	s := NewSession("u", "s", "c", 1<<20, func() {}, func(int, string) {})
	frames := make([]*Frame, 40)
	for i := range frames {
		frames[i] = &Frame{Data: []byte{byte(i)}}
	}
	var held []*Frame
	var got []*Frame
	round := func() {
		for _, f := range frames {
			s.Send(f)
		}
		held = s.Take(held[:0])
		got = append(got[:0], held...)
		s.Written(len(held), 0)
		clear(held) // as the writer does with what it has written
	}
	for range 3 {
		round()
	}
	if allocs := testing.AllocsPerRun(100, round); allocs != 0 {
		t.Errorf("queueing forty frames and taking them made %v allocations", allocs)
	}
	if !slices.Equal(got, frames) {
		t.Errorf("took %d frames, want the forty in order", len(got))
	}
	if held = s.Take(held[:0]); len(held) != 0 {
		t.Fatalf("took %d frames from an empty queue", len(held))
	}
	s.mu.Lock()
	kept := cap(s.q)
	s.mu.Unlock()
	if kept > 16 {
		t.Errorf("an idle session keeps a queue of capacity %d", kept)
	}
}
