package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram keeps latencies in microseconds in log-linear buckets, as HDR
// histograms do: every power of two is split into subCount linear sub-buckets,
// so a recorded value is off by at most 1/subCount (about 3%) of itself.
// Values from 0 to 2^maxExp µs (about 18 minutes) are kept; larger ones are
// clamped into the last bucket.
const (
	subBits     = 5
	subCount    = 1 << subBits
	maxExp      = 30
	bucketCount = (maxExp - subBits + 1) * subCount
)

// histogram is safe for concurrent use: record is one atomic add, and a
// snapshot taken while records go on is a consistent-enough view for progress
// lines. One histogram per client keeps the adds uncontended.
type histogram struct {
	counts [bucketCount]atomic.Uint64
	max    atomic.Uint64
}

func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	b := (shift+1)<<subBits + int((v>>shift)&(subCount-1))
	return min(b, bucketCount-1)
}

// bucketBounds returns the smallest value of bucket b and the bucket's width.
func bucketBounds(b int) (low, width uint64) {
	if b < subCount {
		return uint64(b), 1
	}
	shift := b>>subBits - 1
	sub := uint64(b & (subCount - 1))
	return (subCount + sub) << shift, 1 << shift
}

func (h *histogram) record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[bucketOf(us)].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// snapshot is a plain copy of histogram counts that can be merged and queried.
type snapshot struct {
	counts [bucketCount]uint64
	total  uint64
	max    uint64
}

// addTo adds h's counts into s.
func (h *histogram) addTo(s *snapshot) {
	for i := range h.counts {
		n := h.counts[i].Load()
		s.counts[i] += n
		s.total += n
	}
	s.max = max(s.max, h.max.Load())
}

// quantile returns the latency below which the fraction q of the recorded
// values lie, as the middle of the bucket holding it (never above max).
func (s *snapshot) quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(q*float64(s.total) + 0.5)
	rank = min(max(rank, 1), s.total)
	var seen uint64
	for b, n := range s.counts {
		seen += n
		if seen >= rank {
			low, width := bucketBounds(b)
			v := min(low+width/2, s.max)
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(s.max) * time.Microsecond
}

func (s *snapshot) maxLatency() time.Duration {
	return time.Duration(s.max) * time.Microsecond
}
