package gateway

import (
	"math"
	rtmetrics "runtime/metrics"
	"testing"
	"time"
)

// The linger grows by a step per starved sample up to its bound, halves per comfortable
// one down to zero, and holds in between.
func TestLingerFollowsPressure(t *testing.T) {
	p := &pressure{max: 12 * time.Millisecond}
	steps := []struct {
		wait, want time.Duration
	}{
		{time.Millisecond, 0},                         // comfortable from the start: nothing to undo
		{10 * time.Millisecond, 5 * time.Millisecond}, // starved
		{3 * time.Millisecond, 5 * time.Millisecond},  // between: holds
		{10 * time.Millisecond, 10 * time.Millisecond},
		{10 * time.Millisecond, 12 * time.Millisecond}, // bounded
		{10 * time.Millisecond, 12 * time.Millisecond},
		{time.Millisecond, 6 * time.Millisecond}, // comfortable: halves
		{time.Millisecond, 3 * time.Millisecond},
		{time.Millisecond, 1500 * time.Microsecond},
		{time.Millisecond, 0}, // under a millisecond is nothing
	}
	cur := time.Duration(0)
	for i, s := range steps {
		if cur = p.next(cur, s.wait); cur != s.want {
			t.Fatalf("step %d (wait %v): linger %v, want %v", i, s.wait, cur, s.want)
		}
	}
}

// percentile90 reads only what was counted since the last sample.
func TestPercentile90CountsSinceLastSample(t *testing.T) {
	ms := float64(time.Millisecond) / float64(time.Second)
	// Buckets: [0,1ms) [1ms,2ms) [2ms,8ms) [8ms,32ms) [32ms,+Inf).
	h := &rtmetrics.Float64Histogram{
		Buckets: []float64{0, 1 * ms, 2 * ms, 8 * ms, 32 * ms, math.Inf(1)},
		Counts:  []uint64{1000, 95, 5, 0, 0},
	}
	prev := []uint64{1000, 0, 0, 0, 0} // the thousand fast ones were the last sample's
	// Of the 100 new, 95 waited under 2 ms.
	if got, n := percentile90(h, prev); got != 2*time.Millisecond || n != 100 {
		t.Fatalf("percentile90 = %v of %d, want 2ms of 100", got, n)
	}
	h.Counts = []uint64{1000, 50, 0, 50, 0} // half of the new ones waited 8-32 ms
	if got, _ := percentile90(h, prev); got != 32*time.Millisecond {
		t.Fatalf("percentile90 = %v, want 32ms", got)
	}
	if got, n := percentile90(h, h.Counts); got != 0 || n != 0 {
		t.Fatalf("percentile90 of nothing = %v, want 0", got)
	}
	h.Counts = []uint64{1000, 0, 0, 0, 1}
	if got, _ := percentile90(h, prev); got != time.Duration(math.MaxInt64) {
		t.Fatalf("percentile90 in the unbounded bucket = %v, want the longest duration", got)
	}
}
