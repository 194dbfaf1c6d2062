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
	s := heapSamples()
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

// The collector's pace is lowered when connections open in a burst, held while it lasts
// and while much is still allocated after it, put back burstCalm calm periods after it (or
// burstLong periods after the last burst, however much is allocated); a pace already as
// frequent, or collection switched off, is left alone.
func TestBurstPacerLowersThePaceDuringABurstOnly(t *testing.T) {
	const busy = tidyQuiet + 1
	gogc := 100
	set := func(n int) int { prev := gogc; gogc = n; return prev }
	p := &burstPacer{setGCPercent: set}
	if p.step(burstOpens-1, busy) || gogc != 100 {
		t.Fatalf("a few connections changed the pace to %d", gogc)
	}
	if !p.step(burstOpens, busy) || gogc != burstGOGC {
		t.Fatalf("a burst: pace %d, want %d", gogc, burstGOGC)
	}
	held := func(steps int, opened, allocated uint64, why string) {
		t.Helper()
		for i := range steps {
			if p.step(opened, allocated) || gogc != burstGOGC {
				t.Fatalf("%s: pace put back after %d periods", why, i+1)
			}
		}
	}
	held(burstCalm-1, 0, 0, "calm, not for long enough")
	p.step(burstOpens, busy) // another burst: the count starts over
	held(burstCalm-1, 0, 0, "calm after a second burst")
	held(3, 0, busy, "much allocated after the burst")
	held(burstCalm-1, 0, tidyQuiet/burstCalm, "calm again after the allocations")
	if !p.step(0, 0) || gogc != 100 {
		t.Fatalf("after the burst: pace %d, want 100", gogc)
	}

	p.step(burstOpens, busy) // a burst during heavy traffic: the pace comes back anyway
	held(burstLong-1, 0, busy, "heavy traffic after a burst")
	if !p.step(0, busy) || gogc != 100 {
		t.Fatalf("%d periods after a burst in heavy traffic: pace %d, want 100", burstLong, gogc)
	}

	for _, own := range []int{-1, burstGOGC, 10} { // off, or already as frequent
		gogc = own
		p := &burstPacer{setGCPercent: set}
		if p.step(burstOpens, busy) || gogc != own {
			t.Fatalf("GOGC %d: a burst set the pace to %d", own, gogc)
		}
	}
}
