package gateway

import (
	"context"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"
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

func (g *Gateway) tidyMemory(ctx context.Context) {
	s := make([]rtmetrics.Sample, len(tidyMetrics))
	for i, name := range tidyMetrics {
		s[i].Name = name
	}
	prev := readHeapFigures(s)
	var last time.Time
	t := time.NewTicker(tidyEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := readHeapFigures(s)
		if shouldTidy(prev, now) && time.Since(last) >= tidyBetween {
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
	}
}
