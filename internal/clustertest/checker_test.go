package clustertest

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	seedFlag     = flag.Uint64("seed", 0, "TestRandomCluster: the schedule's seed (default: $CHECKER_SEED, else random)")
	durationFlag = flag.Duration("duration", 0, "TestRandomCluster: how long to draw steps (default: $CHECKER_DURATION, else 75s)")
)

// A random schedule of joins, leaves, messages, reconnects, takeovers, private rooms,
// gateways drained and killed, and NATS nodes killed, run on a cluster while every client
// checks what it receives; then the end state is checked (CheckCluster). A failure names
// the seed and step; the same seed runs the same schedule:
//
//	go test -run TestRandomCluster -v ./internal/clustertest -seed 42
//	CHECKER_SEED=42 CHECKER_DURATION=30m go test -run TestRandomCluster -v -timeout 0 ./internal/clustertest
//	make check-cluster DURATION=30m SEED=42
func TestRandomCluster(t *testing.T) {
	seed, duration := checkerSeed(t), checkerDuration(t)
	t.Logf("seed %d, steps drawn for %v (repeat with -seed %d or CHECKER_SEED=%d)", seed, duration, seed, seed)
	c := Start(t, CheckOptions(0))
	ctx, cancel := context.WithTimeout(context.Background(), duration+15*time.Minute)
	defer cancel()
	problems := CheckCluster(ctx, c, CheckConfig{Seed: seed, Duration: duration, Logf: t.Logf})
	problems = withoutKnownOpen(t, problems)
	if len(problems) > 0 {
		all := filepath.Join(c.Dir, "problems.txt")
		if err := os.WriteFile(all, []byte(strings.Join(problems, "\n")+"\n"), 0o644); err == nil {
			t.Logf("every problem is in %s", all)
		}
	}
	// The first few of each kind, so that one kind does not hide the others.
	shown := map[string]int{}
	for _, p := range problems {
		k := kinds([]string{p})
		if shown[k]++; shown[k] <= 15 {
			t.Error(p)
		}
	}
	if len(problems) > 0 {
		t.Errorf("seed %d: %d problems (%s); the schedule is in %s/schedule.txt (CLUSTERTEST_KEEP=dir keeps it)",
			seed, len(problems), kinds(problems), c.Dir)
	}
}

// knownOpen are the kinds of problem the checker still finds in the product and that are
// being fixed (docs/checker.md): the short run of make test logs them without failing, so
// that they do not block every other change; CHECKER_STRICT=1 (make check-cluster) fails on
// them as on everything else.
var knownOpen = []string{"presence in "}

func withoutKnownOpen(t *testing.T, problems []string) []string {
	if os.Getenv("CHECKER_STRICT") == "1" {
		return problems
	}
	var rest []string
	for _, p := range problems {
		open := false
		for _, k := range knownOpen {
			open = open || strings.HasPrefix(p, k)
		}
		if open {
			t.Logf("KNOWN OPEN (issue 8, not failing without CHECKER_STRICT=1): %s", p)
			continue
		}
		rest = append(rest, p)
	}
	return rest
}

// kinds counts problems by what they are about, for the summary line.
func kinds(problems []string) string {
	known := []struct{ kind, marker string }{
		{"unexpected close codes", "ended with close code"},
		{"joins refused", "join refused"},
		{"joined replies wrong", "joined reply"},
		{"live events wrong", ": live "},
		{"gaps or duplicates against the stream", "segment"},
		{"messages lost or stored twice", "acknowledged"},
		{"presence", "presence"},
		{"clients out of their rooms", "its rooms"},
		{"clients not receiving a room", "does not receive"},
	}
	counts := map[string]int{}
	var order []string
	for _, p := range problems {
		kind := "other"
		for _, k := range known {
			if strings.Contains(p, k.marker) {
				kind = k.kind
				break
			}
		}
		if counts[kind] == 0 {
			order = append(order, kind)
		}
		counts[kind]++
	}
	var out []string
	for _, k := range order {
		out = append(out, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(out, ", ")
}

func checkerSeed(t *testing.T) uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	if s := os.Getenv("CHECKER_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHECKER_SEED=%q: %v", s, err)
		}
		return n
	}
	return rand.Uint64N(1 << 32)
}

func checkerDuration(t *testing.T) time.Duration {
	if *durationFlag != 0 {
		return *durationFlag
	}
	if s := os.Getenv("CHECKER_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("CHECKER_DURATION=%q: %v", s, err)
		}
		return d
	}
	return 75 * time.Second
}
