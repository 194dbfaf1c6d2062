package clustertest

import (
	"slices"
	"testing"
)

// The same seed makes the same schedule; every schedule ends with every client back and
// every process running, and never has two gateways or two NATS nodes down.
func TestPlannerIsDeterministic(t *testing.T) {
	plan := func(seed uint64) []Step {
		p := NewPlanner(seed)
		var out []Step
		for range 500 {
			out = append(out, p.Next())
		}
		return append(out, p.Finish()...)
	}
	for seed := range uint64(20) {
		a, b := plan(seed), plan(seed)
		if !slices.EqualFunc(a, b, func(x, y Step) bool { return x.String() == y.String() }) {
			t.Fatalf("seed %d: two different schedules", seed)
		}
		gw, nats, away := -1, -1, map[int]bool{}
		for _, s := range a {
			switch s.Op {
			case OpKillGW, OpTermGW:
				if gw >= 0 {
					t.Fatalf("seed %d %s: gw-%d is down", seed, s, gw+1)
				}
				if s.Op == OpKillGW {
					gw = s.Target
				}
			case OpStartGW:
				gw = -1
			case OpKillNATS:
				if nats >= 0 {
					t.Fatalf("seed %d %s: n%d is down", seed, s, nats+1)
				}
				nats = s.Target
			case OpStartNATS:
				nats = -1
			case OpAway, OpQuit:
				away[s.Client] = true
			case OpReturn, OpBack:
				delete(away, s.Client)
			}
		}
		if gw >= 0 || nats >= 0 || len(away) > 0 {
			t.Fatalf("seed %d: the schedule ends with gw %d, nats %d down and clients %v away", seed, gw, nats, away)
		}
	}
	if plan(1)[0].String() == plan(2)[0].String() && plan(1)[1].String() == plan(2)[1].String() && plan(1)[2].String() == plan(2)[2].String() {
		t.Fatal("seeds 1 and 2 begin alike")
	}
}
