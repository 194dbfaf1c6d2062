package clustertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestThroughLoadBalancer measures delivery through HAProxy to 1, 2 and 3 gateways of one
// NATS cluster (R3), in one run, with cmd/chatload. It is a measurement, not a check, so it
// runs only when asked:
//
//	CLUSTERTEST_BENCH=1 go test -run TestThroughLoadBalancer -v -timeout 20m ./internal/clustertest
//
// CLUSTERTEST_BENCH_ARGS replaces the chatload flags of each run (clients, rooms, rate...).
// The numbers go to docs/benchmarks.md, "Through the load balancer".
func TestThroughLoadBalancer(t *testing.T) {
	if os.Getenv("CLUSTERTEST_BENCH") == "" {
		t.Skip("a measurement: set CLUSTERTEST_BENCH=1 to run it")
	}
	// Frontend i fronts gateways 0..i.
	c := Start(t, Options{Frontends: [][]int{{0}, {0, 1}, {0, 1, 2}}})
	modes := []struct{ name, args string }{
		{"saturated", "--clients 300 --rooms 10 --publishers 10 --rate 0 --window 8 --duration 15s"},
		{"500 msg/s", "--clients 300 --rooms 10 --publishers 10 --rate 500 --window 8 --duration 15s"},
	}
	if a := os.Getenv("CLUSTERTEST_BENCH_ARGS"); a != "" {
		modes = modes[:1]
		modes[0].name, modes[0].args = "custom", a
	}
	var table strings.Builder
	table.WriteString("| load | gateways | sent/s | delivered/s | p50 ms | p99 ms | p99.9 ms | max ms | lost | dup | reconnects | load average |\n")
	table.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range modes {
		for n := 1; n <= 3; n++ {
			s, err := chatload(c, n, fmt.Sprintf("lb%d-%s", n, strings.Fields(m.name)[0]), m.args)
			if err != nil {
				t.Errorf("%s, %d gateways: %v", m.name, n, err)
				continue
			}
			fmt.Fprintf(&table, "| %s | %d | %.0f | %.0f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d %v | %s |\n",
				m.name, n, s.SentPerSec, s.DeliveredPerSec, s.Latency.P50, s.Latency.P99, s.Latency.P999,
				s.Latency.Max, s.Lost, s.Duplicated, s.Connections.Reconnects, s.Connections.Drops, loadAverage())
		}
	}
	for _, m := range modes {
		t.Logf("%s: chatload %s", m.name, m.args)
	}
	t.Logf("chatload through HAProxy, one NATS cluster (3 nodes, R3):\n%s", table.String())
}

type loadResult struct {
	SentPerSec      float64 `json:"sent_per_second"`
	DeliveredPerSec float64 `json:"delivered_per_second"`
	Lost            uint64  `json:"lost"`
	Duplicated      uint64  `json:"duplicated"`
	Latency         struct {
		P50, P99, P999, Max float64
	} `json:"latency_ms"`
	Connections struct {
		Reconnects uint64         `json:"reconnects"`
		Drops      map[string]int `json:"drops_by_close_code"`
	} `json:"connections"`
}

// chatload runs cmd/chatload against frontend n-1 (n gateways) and decodes its summary.
func chatload(c *Cluster, n int, prefix, args string) (loadResult, error) {
	url := "ws://127.0.0.1:" + strconv.Itoa(c.LBPorts[n-1]) + "/ws"
	argv := append([]string{"--url", url, "--room-prefix", prefix, "--json", "--progress", "0"}, strings.Fields(args)...)
	cmd := exec.Command(c.Bins.ChatLoad, argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	runErr := cmd.Run()
	var r loadResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("chatload %s: %v, %v\n%s", strings.Join(argv, " "), runErr, err, errb.String())
	}
	if runErr != nil {
		return r, fmt.Errorf("chatload %s: %v\n%s", strings.Join(argv, " "), runErr, errb.String())
	}
	return r, nil
}

// loadAverage is the machine's one-minute load average, from /proc/loadavg: the machine is
// shared, and the numbers mean little without it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
