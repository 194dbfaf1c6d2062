package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
)

// metricValue returns the sum of a metric's samples (over its labels) from GET /metrics;
// name may carry labels, as in chat_rejected_commands_total{code="bad_request"}.
func metricValue(t *testing.T, g *chattest.Gateway, name string) float64 {
	t.Helper()
	v, ok := metrics(t, g)[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return v
}

// metrics reads GET /metrics into samples by name: both the full name with labels and the
// bare name (summed over labels).
func metrics(t *testing.T, g *chattest.Gateway) map[string]float64 {
	t.Helper()
	status, body := chattest.GetJSON(t, g.HTTP()+"/metrics", nil, nil)
	if status != 200 {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		full := line[:i]
		out[full] = v
		if j := strings.IndexByte(full, '{'); j >= 0 {
			out[full[:j]] += v
		}
	}
	return out
}

func TestMetrics(t *testing.T) {
	g := openGW(t, gateway.Limits{})
	c := openClient(t, g, "alice")
	c.Call(map[string]any{"type": "join", "chatroomId": "lobby"})
	if a := c.Call(map[string]any{"type": "message", "chatroomId": "lobby", "message": "hi"}); a.Type != "ack" {
		t.Fatalf("post: %s", a.Raw)
	}
	c.SendRaw([]byte(`{"type":"nonsense"}`))
	c.SendRaw([]byte(`{"type":"join","chatroomId":"a.b"}`))
	c.Mark()
	m := metrics(t, g)
	for name, min := range map[string]float64{
		"chat_connections":                                  1,
		"chat_connections_opened_total":                     1,
		"chat_slow_consumer_closes_total":                   0,
		`chat_rejected_commands_total{code="bad_request"}`:  1,
		`chat_rejected_commands_total{code="invalid_room"}`: 1,
		`chat_commands_total{type="message"}`:               1,
		"chat_publish_seconds_count":                        1,
		"chat_publish_seconds_bucket":                       1,
		"chat_history_seconds_count":                        1,
		"go_goroutines":                                     1,
		"process_resident_memory_bytes":                     1 << 20,
	} {
		v, ok := m[name]
		if !ok || v < min {
			t.Errorf("%s = %v (present %v), want at least %v", name, v, ok, min)
		}
	}
}

// TestCloseCodesMakeFewSeries checks that clients closing with many different codes do not
// make a metric series each.
func TestCloseCodesMakeFewSeries(t *testing.T) {
	g := gw(t, gateway.Config{})
	for code := 4100; code < 4120; code++ {
		c := connect(t, g, "alice", fmt.Sprint("s", code))
		c.Close(websocket.StatusCode(code))
		c.Closed()
	}
	waitFor(t, context.Background(), "20 closes counted", func() bool {
		return metricValue(t, g, "chat_connections_closed_total") == 20
	})
	series := 0
	for name := range metrics(t, g) {
		if strings.HasPrefix(name, "chat_connections_closed_total{") {
			series++
		}
	}
	if series != 1 {
		t.Fatalf("%d series for 20 close codes", series)
	}
}
