package gateway

import (
	rtmetrics "runtime/metrics"
	"testing"
)

// The rule: quiet (little allocated over a period) and far more held than live. Busy or
// lean, it leaves the collector alone.
func TestShouldTidyOnlyWhenQuietAndHoldingMuchMoreThanLive(t *testing.T) {
	const mb = 1 << 20
	prev := heapFigures{allocs: 1000 * mb}
	for _, tc := range []struct {
		name string
		now  heapFigures
		want bool
	}{
		{"after a burst", heapFigures{allocs: prev.allocs + 1*mb, live: 90 * mb, held: 380 * mb}, true},
		{"busy", heapFigures{allocs: prev.allocs + 200*mb, live: 90 * mb, held: 380 * mb}, false},
		{"lean", heapFigures{allocs: prev.allocs + 1*mb, live: 90 * mb, held: 90*mb + tidyExcess}, false},
		{"small process", heapFigures{allocs: prev.allocs, live: 4 * mb, held: 40 * mb}, false},
	} {
		if got := shouldTidy(prev, tc.now); got != tc.want {
			t.Errorf("%s: shouldTidy = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The figures come from the runtime's metrics under the names tidy.go asks for: a name
// the runtime does not know would read as zero and the rule would never hold.
func TestHeapFiguresAreRead(t *testing.T) {
	s := make([]rtmetrics.Sample, len(tidyMetrics))
	for i, name := range tidyMetrics {
		s[i].Name = name
	}
	f := readHeapFigures(s)
	if f.allocs == 0 || f.held == 0 || f.held < f.live {
		t.Fatalf("figures %+v", f)
	}
	for _, x := range s {
		if x.Value.Kind() == rtmetrics.KindBad {
			t.Errorf("the runtime does not know %s", x.Name)
		}
	}
}

// The collector's pace is lowered when connections open in a burst, held while it lasts,
// put back burstCalm quiet periods after it; a pace already as frequent, or collection
// switched off, is left alone.
func TestBurstPacerLowersThePaceDuringABurstOnly(t *testing.T) {
	gogc := 100
	set := func(n int) int { prev := gogc; gogc = n; return prev }
	p := &burstPacer{setGCPercent: set}
	if p.step(burstOpens-1) || gogc != 100 {
		t.Fatalf("a few connections changed the pace to %d", gogc)
	}
	if !p.step(burstOpens) || gogc != burstGOGC {
		t.Fatalf("a burst: pace %d, want %d", gogc, burstGOGC)
	}
	for i := range burstCalm - 1 { // quiet, then a burst again: the count starts over
		if p.step(0) || gogc != burstGOGC {
			t.Fatalf("pace put back after %d quiet periods", i+1)
		}
	}
	p.step(burstOpens)
	for i := range burstCalm - 1 {
		if p.step(0) || gogc != burstGOGC {
			t.Fatalf("pace put back after %d quiet periods following a second burst", i+1)
		}
	}
	if !p.step(0) || gogc != 100 {
		t.Fatalf("after the burst: pace %d, want 100", gogc)
	}
	for _, own := range []int{-1, burstGOGC, 10} { // off, or already as frequent
		gogc = own
		p := &burstPacer{setGCPercent: set}
		if p.step(burstOpens) || gogc != own {
			t.Fatalf("GOGC %d: a burst set the pace to %d", own, gogc)
		}
	}
}
