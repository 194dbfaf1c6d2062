package gateway

import (
	"context"
	"math"
	rtmetrics "runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/poll"
)

// When the process is short of CPU, every frame written costs the gateway a system call
// and the client a read, so writing each session's events as they come makes the shortage
// worse: at 12,000 msg/s to 1,000 clients on two cores shared with the load generator the
// frames averaged 4.7 KB and the gateway fell behind, where one P (whose writers run only
// when nothing else can) wrote 12.3 KB frames and kept up (docs/benchmarks.md, Run 7).
//
// linger is the answer: while goroutines wait for a CPU, a session's writer that has just
// written a small frame waits a little before taking more, so its next frame carries
// everything that came meanwhile. How long follows how starved the process is, measured by
// the runtime itself (how long runnable goroutines waited to run), so an idle or
// comfortable gateway never waits and writes each event at once.

// DefaultLinger is Config.Linger when it is zero: at 12,000 msg/s to 1,000 clients on two
// shared cores, 50 ms kept p99 under 200 ms where 20 ms did not keep up.
const DefaultLinger = 50 * time.Millisecond

const (
	// pressureEvery is how often the watcher samples the scheduler.
	pressureEvery = 100 * time.Millisecond
	// starved and comfortable bound the 90th percentile of the time runnable goroutines
	// waited for a CPU in the last sample: above starved the linger grows, below
	// comfortable it shrinks. Between them it stays. (On an idle two-core machine the
	// figure is under 1 ms; a saturated one, 12-40 ms.) The runtime's buckets are a
	// quarter of a power of two wide and the percentile is its bucket's upper bound, so
	// the thresholds are met from about 3.7 and 1.8 ms.
	starved     = 4 * time.Millisecond
	comfortable = 2 * time.Millisecond
	// fewSamples is how many scheduling latencies a sample must count to tell anything:
	// the runtime records about one goroutine in eight, so a quiet gateway counts a few,
	// and one GC pause would make their 90th percentile. Fewer count as comfortable.
	fewSamples = 32
	// lingerStep is how much the linger grows per starved sample.
	lingerStep = 5 * time.Millisecond
	// smallFrame is the frame below which a writer lingers: one at least this big gains
	// little from waiting.
	smallFrame = 8 << 10
)

// pressure holds the linger writers use now; the watcher changes it.
type pressure struct {
	linger atomic.Int64 // nanoseconds
	max    time.Duration
}

// Linger is how long a writer that wrote a small frame waits before its next.
func (p *pressure) Linger() time.Duration { return time.Duration(p.linger.Load()) }

// next is the linger after a sample whose 90th percentile wait was wait: additive
// increase while starved, halving while comfortable, never above max.
func (p *pressure) next(cur, wait time.Duration) time.Duration {
	switch {
	case wait > starved:
		return min(cur+lingerStep, p.max)
	case wait < comfortable:
		if cur /= 2; cur < time.Millisecond {
			return 0
		}
	}
	return cur
}

// watch samples the runtime's scheduling latencies every pressureEvery until ctx ends.
func (p *pressure) watch(ctx context.Context, set func(time.Duration)) {
	sample := []rtmetrics.Sample{{Name: "/sched/latencies:seconds"}}
	rtmetrics.Read(sample)
	if sample[0].Value.Kind() != rtmetrics.KindFloat64Histogram {
		return // not this runtime's: writers never linger
	}
	prev := append([]uint64(nil), sample[0].Value.Float64Histogram().Counts...)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	poll.Every(ctx, pressureEvery, func() {
		rtmetrics.Read(sample)
		h := sample[0].Value.Float64Histogram()
		if len(h.Counts) != len(prev) {
			stop() // the runtime's buckets are fixed; if not, writers never linger
			return
		}
		wait, n := percentile90(h, prev)
		if n < fewSamples {
			wait = 0
		}
		copy(prev, h.Counts)
		cur := p.Linger()
		if n := p.next(cur, wait); n != cur {
			p.linger.Store(int64(n))
			set(n)
		}
	})
}

// percentile90 is the 90th percentile of what h counted since prev (its counts then), as
// the upper bound of its bucket (zero when it counted nothing), and how many it counted.
func percentile90(h *rtmetrics.Float64Histogram, prev []uint64) (time.Duration, uint64) {
	var total uint64
	for i, c := range h.Counts {
		total += c - prev[i]
	}
	var acc uint64
	for i, c := range h.Counts {
		if acc += c - prev[i]; total > 0 && acc*10 >= total*9 {
			if b := h.Buckets[i+1]; b < math.MaxInt64/float64(time.Second) {
				return time.Duration(b * float64(time.Second)), total
			}
			return time.Duration(math.MaxInt64), total
		}
	}
	return 0, 0
}

// lingerChanged logs the linger's every move.
func (g *Gateway) lingerChanged(d time.Duration) {
	g.log.Debug("writers' linger changed", "linger", d)
}

// lingerLeft is what is left of the linger since the writer's last frame, if that frame was
// small; zero or less when the writer need not wait.
func (c *conn) lingerLeft() time.Duration {
	if c.smallAt == 0 {
		return 0
	}
	d := c.g.pressure.Linger()
	if d <= 0 {
		return 0
	}
	return d - (monotonic() - c.smallAt)
}

// monotonic is the time since the process started, never 0 after it.
func monotonic() time.Duration { return time.Since(processStart) + 1 }

var processStart = time.Now()
