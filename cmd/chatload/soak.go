package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics is one sample of one gateway's /metrics. A value the gateway does
// not export is -1.
type metrics struct {
	Gateway    string    `json:"gateway"`
	At         time.Time `json:"at"`
	HeapInuse  float64   `json:"heap_inuse_bytes"`
	RSS        float64   `json:"resident_bytes"`
	Goroutines float64   `json:"goroutines"`
	Err        string    `json:"error,omitempty"`
}

// sampler reads the gateways' /metrics pages.
type sampler struct {
	urls   []string // one /metrics URL per distinct gateway
	every  time.Duration
	client *http.Client
}

func newSampler(cfg Config) *sampler {
	s := &sampler{every: cfg.SampleEvery, client: &http.Client{Timeout: 5 * time.Second}}
	seen := map[string]bool{}
	for _, u := range cfg.URLs {
		m := metricsURL(u)
		if !seen[m] {
			seen[m] = true
			s.urls = append(s.urls, m)
		}
	}
	return s
}

// metricsURL derives a gateway's http(s)://host/metrics from its ws(s) URL.
func metricsURL(ws string) string {
	u, err := url.Parse(ws)
	if err != nil {
		return ws
	}
	u.Scheme = strings.Replace(u.Scheme, "ws", "http", 1)
	u.Path, u.RawQuery, u.Fragment = "/metrics", "", ""
	return u.String()
}

func (s *sampler) sampleAll(ctx context.Context) []metrics {
	out := make([]metrics, len(s.urls))
	for i, u := range s.urls {
		out[i] = s.sample(ctx, u)
	}
	return out
}

func (s *sampler) sample(ctx context.Context, u string) metrics {
	m := metrics{Gateway: u, At: time.Now(), HeapInuse: -1, RSS: -1, Goroutines: -1}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	resp, err := s.client.Do(req)
	if err != nil {
		m.Err = err.Error()
		return m
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.Err = resp.Status
		return m
	}
	parseMetrics(resp.Body, &m)
	return m
}

// parseMetrics picks the three gauges out of Prometheus text format.
func parseMetrics(r io.Reader, m *metrics) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			m.HeapInuse = v
		case "process_resident_memory_bytes":
			m.RSS = v
		case "go_goroutines":
			m.Goroutines = v
		}
	}
}

// start samples every gateway each period while enabled, and returns a func
// that stops sampling and returns the samples.
func (s *sampler) start(ctx context.Context, enabled bool) (stop func() []metrics) {
	if !enabled {
		return func() []metrics { return nil }
	}
	var mu sync.Mutex
	var samples []metrics
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(s.every)
		defer tick.Stop()
		for {
			got := s.sampleAll(ctx)
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			samples = append(samples, got...)
			mu.Unlock()
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() []metrics {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return samples
	}
}
