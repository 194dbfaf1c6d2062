package main

import (
	"fmt"
	"strings"
)

// soakVerdict compares, for one gateway and one metric, the average of the
// first third of the soak samples with the average of the last third.
type soakVerdict struct {
	Gateway string  `json:"gateway"`
	Metric  string  `json:"metric"`
	First   float64 `json:"first_third_avg"`
	Last    float64 `json:"last_third_avg"`
	Growth  float64 `json:"growth"` // (last-first)/first
	Grew    bool    `json:"grew"`   // growth above the threshold
}

func judgeSoak(samples []metrics, threshold float64) []soakVerdict {
	byGateway := map[string][]metrics{}
	var order []string
	for _, m := range samples {
		if m.Err != "" {
			continue
		}
		if _, ok := byGateway[m.Gateway]; !ok {
			order = append(order, m.Gateway)
		}
		byGateway[m.Gateway] = append(byGateway[m.Gateway], m)
	}
	var out []soakVerdict
	for _, gw := range order {
		ms := byGateway[gw]
		if len(ms) < 3 {
			continue // too few samples to tell a trend from noise
		}
		for _, metric := range []string{"heap_inuse_bytes", "resident_bytes", "goroutines"} {
			if v, ok := judgeOne(ms, metric, threshold); ok {
				v.Gateway = gw
				out = append(out, v)
			}
		}
	}
	return out
}

func judgeOne(ms []metrics, metric string, threshold float64) (soakVerdict, bool) {
	third := len(ms) / 3
	first, okF := average(ms[:third], metric)
	last, okL := average(ms[len(ms)-third:], metric)
	if !okF || !okL || first <= 0 {
		return soakVerdict{}, false
	}
	g := (last - first) / first
	return soakVerdict{Metric: metric, First: first, Last: last, Growth: g, Grew: g > threshold}, true
}

func average(ms []metrics, metric string) (float64, bool) {
	var sum float64
	for _, m := range ms {
		v := m.value(metric)
		if v < 0 {
			return 0, false
		}
		sum += v
	}
	return sum / float64(len(ms)), len(ms) > 0
}

func (m metrics) value(metric string) float64 {
	switch metric {
	case "heap_inuse_bytes":
		return m.HeapInuse
	case "resident_bytes":
		return m.RSS
	}
	return m.Goroutines
}

// perConn is the gateways' growth from before connecting to all connected,
// divided by the number of clients (idle mode).
type perConn struct {
	HeapInuse  float64 `json:"heap_inuse_bytes"`
	RSS        float64 `json:"resident_bytes"`
	Goroutines float64 `json:"goroutines"`
}

func perConnection(before, after []metrics, clients int) *perConn {
	if len(before) == 0 || len(before) != len(after) || clients == 0 {
		return nil
	}
	delta := func(metric string) float64 {
		var d float64
		for i := range before {
			b, a := before[i].value(metric), after[i].value(metric)
			if b < 0 || a < 0 {
				return -1
			}
			d += a - b
		}
		return d / float64(clients)
	}
	return &perConn{delta("heap_inuse_bytes"), delta("resident_bytes"), delta("goroutines")}
}

func mib(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fMiB", v/(1<<20))
}

// writeMetrics adds the idle and soak parts of the text summary.
func writeMetrics(b *strings.Builder, s *summary) {
	line := func(label string, ms []metrics) {
		for _, m := range ms {
			if m.Err != "" {
				fmt.Fprintf(b, "%-13s %s: %s\n", label, m.Gateway, m.Err)
				continue
			}
			fmt.Fprintf(b, "%-13s %s heap %s rss %s goroutines %.0f\n", label, m.Gateway, mib(m.HeapInuse), mib(m.RSS), m.Goroutines)
		}
	}
	if p := s.PerConnection; p != nil {
		line("before", s.MetricsBefore)
		line("connected", s.MetricsConnected)
		line("after", s.MetricsAfter)
		fmt.Fprintf(b, "per conn      heap %s, rss %s, goroutines %s\n", perConnValue(p.HeapInuse, " B"), perConnValue(p.RSS, " B"), perConnValue(p.Goroutines, ""))
	}
	if len(s.Samples) > 0 {
		for _, m := range s.Samples {
			line("sample "+m.At.Format("15:04:05"), []metrics{m})
		}
		for _, v := range s.Soak {
			fmt.Fprintf(b, "soak          %s %s first %.0f last %.0f growth %+.1f%% grew=%v\n",
				v.Gateway, v.Metric, v.First, v.Last, 100*v.Growth, v.Grew)
		}
	}
}

func perConnValue(v float64, unit string) string {
	if v < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%s", v, unit)
}
