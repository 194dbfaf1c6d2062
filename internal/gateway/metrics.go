package gateway

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the gateway's Prometheus metrics, in a registry of its own (tests run several
// gateways in one process).
type metrics struct {
	reg        *prometheus.Registry
	opened     prometheus.Counter
	closed     *prometheus.CounterVec
	slow       prometheus.Counter
	commands   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	eventsIn   prometheus.Counter
	refilled   prometheus.Counter
	publish    prometheus.Histogram
	historyLat prometheus.Histogram
	deferred   prometheus.Counter
	apiCalls   *prometheus.CounterVec
	apiLat     prometheus.Histogram
	writes     prometheus.Counter
	written    prometheus.Counter
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := factory{m.reg}
	m.opened = f.counter("chat_connections_opened_total", "WebSocket connections accepted.")
	m.closed = f.counterVec("chat_connections_closed_total", "WebSocket connections ended, by who closed them and why.", "reason")
	m.slow = f.counter("chat_slow_consumer_closes_total", "Sessions closed with 4000 because their queue was full.")
	m.commands = f.counterVec("chat_commands_total", "Commands received, by type.", "type")
	m.rejected = f.counterVec("chat_rejected_commands_total", "Commands answered with an error, by code.", "code")
	m.eventsIn = f.counter("chat_events_in_total", "Stored events received from the stream's live feed.")
	m.refilled = f.counter("chat_events_refilled_total", "Of chat_events_in_total, events read back from the stream instead of received live: the live feed lost them, they were stored while the feed restarted, or an idle check found the feed behind.")
	m.publish = f.histogram("chat_publish_seconds", "Time to store a message in the event stream.")
	m.historyLat = f.histogram("chat_history_seconds", "Time to build a joined or history reply.")
	m.apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "chat_api_calls_total",
		Help: "Server API calls (HTTP and NATS), by method and outcome (ok or the error code)."}, []string{"method", "code"})
	m.reg.MustRegister(m.apiCalls)
	m.apiLat = f.histogram("chat_api_seconds", "Time to answer a server API call.")
	m.writes = f.counter("chat_frames_written_total", "WebSocket frames written to clients (each may carry several events or replies).")
	m.written = f.counter("chat_bytes_written_total", "Bytes of WebSocket payload written to clients (events, notices, replies).")
	m.deferred = f.counter("chat_presence_deferred_total", "Connection ends whose presence update failed at first and was tried again in the background.")
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gaugeFunc("chat_connections", "Open WebSocket connections.", func() float64 { return float64(g.conns.count()) }),
		gaugeFunc("chat_rooms_active", "Rooms with members on this gateway.", func() float64 { return float64(g.feeds.Count()) }),
		gaugeFunc("chat_users_online", "Users online on any gateway.", func() float64 { return float64(g.control.State().UserCount()) }),
		gaugeFunc("chat_write_linger_seconds", "How long a client's writer now waits after a small frame: above zero while the process is short of CPU.",
			func() float64 { return g.pressure.Linger().Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chat_nats_reconnects_total", Help: "Reconnections to NATS."},
			func() float64 { return float64(g.nc.Stats().Reconnects) }),
		gaugeFunc("chat_nats_connected", "1 while connected to NATS.", func() float64 {
			if g.nc.IsConnected() {
				return 1
			}
			return 0
		}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// since observes the time since start on h.
func since(h prometheus.Histogram, start time.Time) { h.Observe(time.Since(start).Seconds()) }

type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help, label string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogram(name, help string) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help,
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14)})
	f.reg.MustRegister(h)
	return h
}

func gaugeFunc(name, help string, fn func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn)
}
