package clustertest

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBins()
	os.Exit(code)
}

// Load settings: 100 clients in 10 rooms, each room receiving rate messages per second.
// CLUSTERTEST_RATE changes the per-room rate (the default is modest so that the race
// detector's slower clients keep up on two cores; the failure behaviour is what is tested).
func loadConfig(c *Cluster, prefix string) LoadConfig {
	rate := 100.0
	if s := os.Getenv("CLUSTERTEST_RATE"); s != "" {
		if r, err := strconv.ParseFloat(s, 64); err == nil && r > 0 {
			rate = r
		}
	}
	return LoadConfig{URL: c.LBWS(), HTTP: c.LBHTTP(), Clients: 100, Rooms: 10, Prefix: prefix, Rate: rate}
}

// startLoad connects the load and starts publishing; t.Cleanup stops it.
func startLoad(t *testing.T, c *Cluster, prefix string) *Load {
	t.Helper()
	l, err := StartLoad(loadConfig(c, prefix), 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	l.SetPublishing(true)
	return l
}

// steady waits until n more messages have been acknowledged: the load is flowing.
func steady(t *testing.T, l *Load, n int) {
	t.Helper()
	if err := l.WaitAckedSince(l.Acked(), n, 30*time.Second); err != nil {
		t.Fatalf("load not flowing: %v; %v", err, l.Summary())
	}
}

// finish ends the load and fails the test with every problem found.
func finish(t *testing.T, l *Load) Summary {
	t.Helper()
	sum := l.Summary()
	// 1013 is what a connection gets when presence cannot be recorded as it opens: with NATS
	// up, as here, and no per-user limit reached, it is as much a fault as 1011.
	for _, code := range []int{1011, 1013, 4000, 4001, 4500, 4501} {
		if n := sum.Closes[code]; n > 0 {
			t.Errorf("%d connections were closed with %d", n, code)
		}
	}
	problems := l.Finish(60 * time.Second)
	t.Logf("load: %v", l.Summary())
	for i, p := range problems {
		if i == 30 {
			t.Errorf("... and %d more problems", len(problems)-30)
			break
		}
		t.Error(p)
	}
	return sum
}
