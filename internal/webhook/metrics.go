package webhook

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	delivered prometheus.Counter
	failed    prometheus.Counter
	lag       prometheus.GaugeFunc
}

func newMetrics(d *Deliverer) *metrics {
	return &metrics{
		delivered: prometheus.NewCounter(prometheus.CounterOpts{Name: "chat_webhook_delivered_total",
			Help: "Events this gateway posted to the webhook and had answered with a 2xx."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "chat_webhook_failed_attempts_total",
			Help: "Webhook requests of this gateway answered with a non-2xx or not answered in time."}),
		lag: prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chat_webhook_lag",
			Help: "Stored events not yet delivered to the webhook (the shared consumer's pending and unacknowledged; the same on every gateway); NaN when NATS does not answer."},
			d.lag),
	}
}

// Collectors are the delivery's metrics, to register with the gateway's registry.
func (d *Deliverer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{d.metrics.delivered, d.metrics.failed, d.metrics.lag}
}

// lag asks the server for the consumer's state: events not yet handed out plus events
// handed out and not acknowledged.
func (d *Deliverer) lag() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := d.cons.Info(ctx)
	if err != nil {
		return math.NaN()
	}
	return float64(info.NumPending) + float64(info.NumAckPending)
}
