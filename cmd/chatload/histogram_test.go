package main

import (
	"math"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	prevLow, prevWidth := bucketBounds(0)
	for b := 1; b < bucketCount; b++ {
		low, width := bucketBounds(b)
		if low != prevLow+prevWidth {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", b, low, prevLow+prevWidth)
		}
		if bucketOf(low) != b || bucketOf(low+width-1) != b {
			t.Fatalf("bucket %d [%d,%d) maps to %d..%d", b, low, low+width, bucketOf(low), bucketOf(low+width-1))
		}
		prevLow, prevWidth = low, width
	}
	if got := bucketOf(math.MaxUint64); got != bucketCount-1 {
		t.Fatalf("huge value in bucket %d, want the last", got)
	}
}

func TestQuantilesWithinBucketError(t *testing.T) {
	var h histogram
	for i := 1; i <= 100000; i++ { // 1µs .. 100ms, uniform
		h.record(time.Duration(i) * time.Microsecond)
	}
	var s snapshot
	h.addTo(&s)
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {0.999, 99900 * time.Microsecond}} {
		got := s.quantile(c.q)
		if rel := math.Abs(float64(got-c.want)) / float64(c.want); rel > 1.0/subCount {
			t.Errorf("q%.3f = %v, want %v within %.1f%%", c.q, got, c.want, 100.0/subCount)
		}
	}
	if s.maxLatency() != 100*time.Millisecond || s.total != 100000 {
		t.Errorf("max %v total %d", s.maxLatency(), s.total)
	}
}

func TestQuantileSmallAndEmpty(t *testing.T) {
	var h histogram
	var s snapshot
	h.addTo(&s)
	if s.quantile(0.99) != 0 {
		t.Fatal("empty histogram has a quantile")
	}
	h.record(-time.Second) // clock skew: counted as zero
	h.record(3 * time.Microsecond)
	s = snapshot{}
	h.addTo(&s)
	if s.quantile(0.5) != 0 || s.quantile(1) != 3*time.Microsecond {
		t.Fatalf("p50 %v p100 %v", s.quantile(0.5), s.quantile(1))
	}
}

func TestSnapshotsMerge(t *testing.T) {
	var a, b histogram
	a.record(time.Millisecond)
	b.record(2 * time.Second)
	var s snapshot
	a.addTo(&s)
	b.addTo(&s)
	if s.total != 2 || s.maxLatency() != 2*time.Second {
		t.Fatalf("total %d max %v", s.total, s.maxLatency())
	}
}

func BenchmarkRecord(b *testing.B) {
	var h histogram
	for i := range b.N {
		h.record(time.Duration(i%5000) * time.Microsecond)
	}
}
