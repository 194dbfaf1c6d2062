package gateway

import (
	"context"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"

	"github.com/chathub/chathub/internal/poll"
)

// After a burst (thousands of clients connecting and joining at once) the Go heap holds the
// burst's garbage until the next collection, which a quiet gateway does not start soon, and
// the runtime returns freed memory to the system only slowly: 10,000 idle connections held
// 529 MB of RSS, of which 94 MB was live. tidyMemory watches the runtime's own figures and,
// once the gateway has been quiet for a while with far more held than live, collects and
// returns the rest to the system at once (debug.FreeOSMemory). Under steady load it never
// runs: the collector keeps up with what is allocated there.
const (
	tidyEvery   = 2 * time.Second  // how often the figures are read
	tidyQuiet   = 8 << 20          // allocated in one period, at most, for the gateway to be quiet
	tidyExcess  = 64 << 20         // held beyond live, at least, to be worth a collection
	tidyBetween = 30 * time.Second // between two tidies, at least
)

// heapFigures are the runtime figures tidyMemory decides on, in bytes.
type heapFigures struct {
	allocs uint64 // allocated since the start, cumulative
	live   uint64 // live heap at the last collection
	held   uint64 // heap memory held from the system: objects (live or garbage), free, unused
}

var tidyMetrics = []string{"/gc/heap/allocs:bytes", "/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes", "/memory/classes/heap/free:bytes", "/memory/classes/heap/unused:bytes"}

func readHeapFigures(s []rtmetrics.Sample) heapFigures {
	rtmetrics.Read(s)
	v := func(i int) uint64 {
		if s[i].Value.Kind() != rtmetrics.KindUint64 {
			return 0
		}
		return s[i].Value.Uint64()
	}
	return heapFigures{allocs: v(0), live: v(1), held: v(2) + v(3) + v(4)}
}

// shouldTidy reports whether, between two readings one period apart, the gateway was quiet
// and holds enough beyond its live heap to collect and return it.
func shouldTidy(prev, now heapFigures) bool {
	return now.allocs-prev.allocs <= tidyQuiet && now.held > now.live+tidyExcess
}

// heapSamples is what readHeapFigures reads into.
func heapSamples() []rtmetrics.Sample {
	s := make([]rtmetrics.Sample, len(tidyMetrics))
	for i, name := range tidyMetrics {
		s[i].Name = name
	}
	return s
}

func (g *Gateway) tidyMemory(ctx context.Context) {
	s := heapSamples()
	prev := readHeapFigures(s)
	var last time.Time
	poll.Every(ctx, tidyEvery, func() {
		now := readHeapFigures(s)
		// A burst that just ended (paceBursts) was calm already: tidy without waiting for
		// a quiet period or tidyBetween, before the heap grows at the restored pace, and
		// whatever the heap holds: the burst's goroutines left stacks it does not count
		// (10,000 connections kept 236 MB of RSS where the heap held under 160 MB).
		due := g.tidyDue.Swap(false)
		if due || shouldTidy(prev, now) && time.Since(last) >= tidyBetween && !g.bursting.Load() {
			start := time.Now()
			runtime.GC() // the first collection moves sync.Pool contents to its victim cache
			debug.FreeOSMemory()
			last = time.Now()
			after := readHeapFigures(s)
			g.log.Info("quiet after a burst: memory returned to the system",
				"heldMB", now.held>>20, "liveMB", after.live>>20, "took", last.Sub(start).Round(time.Millisecond))
			now = after
		}
		prev = now
	})
}

// During a burst of connections the collector runs more often. What a burst leaves for good
// (each connection's objects) is allocated among ten times as much garbage (each join's
// presence, replies, NATS messages); with the default pace the garbage spreads over far
// more of the heap before it is collected, and the connections' objects end up scattered
// over pages the collector cannot give back, as it does not move objects. At 10,000
// connections joined to rooms, GOGC=25 for the whole run left 13.3 KB of RSS per idle
// connection against 17.9 KB, and GOGC=50 14.7-15.8 KB (docs/benchmarks.md, Run 7). Under
// message load a lower pace costs latency (GOGC=50 for the whole run raised p99 at 12,000
// msg/s on one core from about 0.2 to 1-2 s), so it is lowered only while connections open
// fast and put back after. 50, not 25: at 25 the burst itself took half as long again.
const (
	burstEvery = 250 * time.Millisecond
	burstOpens = 50 // connections opened in one period, at least, for a burst (200 a second)
	burstGOGC  = 50 // the collector's pace in a burst (GOGC)
	// The pace is put back after burstCalm periods with few connections opened and, over
	// them all, at most tidyQuiet allocated: as quiet as tidyMemory asks (the burst's
	// presence is still being written for a while after the last join); or after
	// burstLong periods with few opened, whatever is allocated (a burst during heavy
	// traffic).
	burstCalm = 8   // 2 s
	burstLong = 120 // 30 s
)

// burstPacer decides the collector's pace from the connections opened in each period.
type burstPacer struct {
	setGCPercent func(int) int // debug.SetGCPercent; tests fake it
	restore      int           // the pace to put back; meaningful while in
	in           bool          // in a burst, the pace lowered
	calm         int           // periods in a row with few opened and, over them, little allocated
	calmAllocs   uint64        // allocated over those
	since        int           // periods in a row with few opened
}

// step takes the connections opened and the bytes allocated in one period, and reports
// whether the pace changed.
func (p *burstPacer) step(opened, allocated uint64) bool {
	switch {
	case opened >= burstOpens && !p.in:
		prev := p.setGCPercent(burstGOGC)
		if prev < 0 || prev <= burstGOGC { // collection off, or already as frequent: leave it
			p.setGCPercent(prev)
			return false
		}
		p.restore, p.in, p.calm, p.calmAllocs, p.since = prev, true, 0, 0, 0
		return true
	case opened >= burstOpens:
		p.calm, p.calmAllocs, p.since = 0, 0, 0
	case p.in:
		p.since++
		p.calm++
		if p.calmAllocs += allocated; p.calmAllocs > tidyQuiet {
			p.calm, p.calmAllocs = 0, 0
		}
		if p.calm >= burstCalm || p.since >= burstLong {
			p.setGCPercent(p.restore)
			p.in = false
			return true
		}
	}
	return false
}

// paceBursts runs the collector more often while connections open in a burst.
func (g *Gateway) paceBursts(ctx context.Context) {
	p := &burstPacer{setGCPercent: debug.SetGCPercent}
	defer func() {
		if p.in {
			p.setGCPercent(p.restore)
		}
	}()
	s := heapSamples()
	allocated := func() uint64 { return readHeapFigures(s).allocs }
	last, lastAlloc := g.opened.Load(), allocated()
	poll.Every(ctx, burstEvery, func() {
		now, nowAlloc := g.opened.Load(), allocated()
		if p.step(now-last, nowAlloc-lastAlloc) {
			g.bursting.Store(p.in)
			g.tidyDue.Store(!p.in)
			if p.in {
				g.log.Info("connections opening in a burst: collecting more often", "gogc", burstGOGC)
			} else {
				g.log.Info("burst of connections over: collector back to its pace", "gogc", p.restore)
			}
		}
		last, lastAlloc = now, nowAlloc
	})
}
