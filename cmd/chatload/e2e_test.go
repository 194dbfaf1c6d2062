package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runLoad runs chatload with cfg and returns its JSON summary, its log (stderr) and its error.
func runLoad(t *testing.T, cfg Config) (*summary, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg.JSON, cfg.Progress = true, -1
	var stdout, stderr bytes.Buffer
	err := run(ctx, cfg, &stdout, &stderr)
	var sum summary
	if jerr := json.Unmarshal(stdout.Bytes(), &sum); jerr != nil {
		t.Fatalf("summary is not JSON: %v\n%s\nstderr:\n%s", jerr, stdout.String(), stderr.String())
	}
	return &sum, stderr.String(), err
}

func TestHealthyRun(t *testing.T) {
	for _, window := range []int{1, 4} {
		t.Run(fmt.Sprintf("window%d", window), func(t *testing.T) {
			g := newFakeGateway(t)
			sum, logs, err := runLoad(t, Config{
				URLs: []string{g.url(), g.url()}, Clients: 6, Rooms: 2, Publishers: 2,
				Messages: 50, Window: window, Size: 100, Duration: 30 * time.Second, Drain: 20 * time.Second,
			})
			if err != nil {
				t.Fatalf("run: %v\n%s", err, logs)
			}
			// Each room has 3 members and 1 publisher sending 50.
			if sum.Sent != 100 || sum.Acked != 100 || sum.Delivered != 300 || sum.Connections.Made != 6 {
				t.Fatalf("sent %d acked %d delivered %d dials %d", sum.Sent, sum.Acked, sum.Delivered, sum.Connections.Made)
			}
			if sum.Lost+sum.Duplicated+sum.OutOfOrder+sum.IDBackward != 0 || sum.Latency.Max <= 0 {
				t.Fatalf("faults on a healthy gateway: %+v", sum)
			}
		})
	}
}

func TestCountsInjectedFaults(t *testing.T) {
	g := newFakeGateway(t)
	g.fault = func(user string, n int) faultAction {
		switch {
		case user == fakeUser(1) && (n == 5 || n == 30): // one in the middle, one at the tail
			return drop
		case user == fakeUser(2) && n == 7:
			return dup
		case user == fakeUser(3) && n == 10:
			return hold
		}
		return deliver
	}
	sum, logs, err := runLoad(t, Config{
		URLs: []string{g.url()}, Clients: 4, Rooms: 1, Publishers: 1,
		Messages: 30, Duration: 30 * time.Second, Drain: 300 * time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), "2 lost") {
		t.Fatalf("want an error naming the loss, got %v\n%s", err, logs)
	}
	want := summary{Lost: 2, Duplicated: 1, OutOfOrder: 1, IDBackward: 2}
	if sum.Lost != want.Lost || sum.Duplicated != want.Duplicated || sum.OutOfOrder != want.OutOfOrder || sum.IDBackward != want.IDBackward {
		t.Fatalf("lost %d dup %d ooo %d idBackward %d, want 2 1 1 2",
			sum.Lost, sum.Duplicated, sum.OutOfOrder, sum.IDBackward)
	}
	if sum.Delivered != 4*30-2+1 {
		t.Fatalf("delivered %d", sum.Delivered)
	}
}

// TestResumesAfterCut cuts every connection right after a message is stored
// and before its ack: the publisher must send it again under the same ref
// (stored once), and the receivers must fetch it with since when they rejoin.
func TestResumesAfterCut(t *testing.T) {
	g := newFakeGateway(t)
	var cuts atomic.Int32
	g.fault = func(user string, n int) faultAction {
		if user == "" && (n == 20 || n == 40) && cuts.Add(1) <= 2 {
			return cut
		}
		return deliver
	}
	sum, logs, err := runLoad(t, Config{
		URLs: []string{g.url()}, Clients: 5, Rooms: 1, Publishers: 1,
		Messages: 60, Duration: 30 * time.Second, Drain: 20 * time.Second,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	// Everyone is cut the first time; a receiver may still be away at the second.
	if r := sum.Connections.Reconnects; r < 5 || r > 10 || sum.Resent < 2 || sum.Acked != 60 {
		t.Fatalf("reconnects %d resent %d acked %d", sum.Connections.Reconnects, sum.Resent, sum.Acked)
	}
	if sum.Lost+sum.Duplicated+sum.OutOfOrder+sum.IDBackward != 0 || sum.Delivered != 5*60 {
		t.Fatalf("faults after resume: %+v", sum)
	}
}

func TestIdleReportsMemoryPerConnection(t *testing.T) {
	g := newFakeGateway(t)
	g.metrics = func() string {
		n := g.connected()
		return fmt.Sprintf("# TYPE go_goroutines gauge\ngo_goroutines %d\ngo_memstats_heap_inuse_bytes %d\nprocess_resident_memory_bytes 5e+07\n",
			10+2*n, 1000000+12000*n)
	}
	sum, logs, err := runLoad(t, Config{URLs: []string{g.url()}, Clients: 20, Rooms: 3, Idle: true, Duration: time.Millisecond})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	p := sum.PerConnection
	if p == nil || p.HeapInuse != 12000 || p.Goroutines != 2 || p.RSS != 0 {
		t.Fatalf("per connection %+v", p)
	}
}

func TestSoakFindsGrowth(t *testing.T) {
	g := newFakeGateway(t)
	var calls atomic.Int64
	g.metrics = func() string {
		n := calls.Add(1)
		return fmt.Sprintf("go_goroutines %d\ngo_memstats_heap_inuse_bytes 1e6\n", 100*n)
	}
	sum, _, err := runLoad(t, Config{
		URLs: []string{g.url()}, Clients: 2, Publishers: 1, Rate: 200, Soak: true,
		Duration: 300 * time.Millisecond, SampleEvery: 20 * time.Millisecond, Drain: 5 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "goroutines grew") {
		t.Fatalf("want goroutine growth reported, got %v\n%+v", err, sum)
	}
	for _, v := range sum.Soak {
		if v.Metric == "heap_inuse_bytes" && v.Grew {
			t.Fatalf("flat heap judged as growing: %+v", v)
		}
	}
	if len(sum.Samples) < 3 {
		t.Fatalf("%d samples", len(sum.Samples))
	}
}

func TestConnectFailureFails(t *testing.T) {
	g := newFakeGateway(t)
	url := g.url()
	g.srv.Close()
	sum, _, err := runLoad(t, Config{URLs: []string{url}, Clients: 2, Publishers: 1, ConnectTimeout: 300 * time.Millisecond})
	if err == nil || sum.ConnectFailed != 2 || sum.Connections.Failed == 0 {
		t.Fatalf("err %v, not connected %d, failed dials %d", err, sum.ConnectFailed, sum.Connections.Failed)
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--url", "ws://a/ws, ws://b/ws", "--clients", "7", "--soak", "1m", "--rate", "0"}, new(bytes.Buffer))
	if err != nil || len(cfg.URLs) != 2 || cfg.URLs[1] != "ws://b/ws" || cfg.Clients != 7 || !cfg.Soak || cfg.Duration != time.Minute || cfg.Rate != 0 {
		t.Fatalf("%v %+v", err, cfg)
	}
	if _, err := parseFlags([]string{"--nope"}, new(bytes.Buffer)); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if metricsURL("wss://h:1/chat/ws?x=1") != "https://h:1/metrics" || metricsURL("ws://h/ws") != "http://h/metrics" {
		t.Fatal(metricsURL("wss://h:1/chat/ws?x=1"))
	}
}

func TestTokenMode(t *testing.T) {
	g := newFakeGateway(t)
	var users sync.Map
	g.fault = func(user string, n int) faultAction {
		users.Store(user, true)
		return deliver
	}
	_, logs, err := runLoad(t, Config{URLs: []string{g.url()}, Clients: 3, Publishers: 1, Messages: 5, TokenSecret: fakeSecret})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	for i := range 3 {
		if _, ok := users.Load(fakeUser(i)); !ok {
			t.Fatalf("no delivery to %s: the token's sub was not taken", fakeUser(i))
		}
	}
}

// TestRetryIsNotAFault refuses one message with rate_limited while the
// publisher has more in flight: it is sent again and lands after later ones,
// which is the publisher's doing, not the gateway's.
func TestRetryIsNotAFault(t *testing.T) {
	g := newFakeGateway(t)
	var refused atomic.Bool
	g.fault = func(user string, n int) faultAction {
		if user == "?" && n == 10 && refused.CompareAndSwap(false, true) {
			return refuse
		}
		return deliver
	}
	sum, logs, err := runLoad(t, Config{URLs: []string{g.url()}, Clients: 3, Publishers: 1, Messages: 40, Window: 8})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	if sum.SendErrors != 1 || sum.Resent != 1 || sum.ErrorCodes["rate_limited"] != 1 || sum.OutOfOrder != 0 || sum.Delivered != 3*40 {
		t.Fatalf("errors %d resent %d codes %v ooo %d delivered %d", sum.SendErrors, sum.Resent, sum.ErrorCodes, sum.OutOfOrder, sum.Delivered)
	}
	if !refused.Load() {
		t.Fatal("nothing was refused")
	}
}
