package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// summary is the end-of-run report; its JSON form is what --json prints.
type summary struct {
	Config         map[string]any `json:"config"`
	ConnectSeconds float64        `json:"connect_seconds"`
	PublishSeconds float64        `json:"publish_seconds"`
	DrainSeconds   float64        `json:"drain_seconds"`

	Connections struct {
		Made       uint64         `json:"made"`
		Failed     uint64         `json:"failed"`
		Reconnects uint64         `json:"reconnects"`
		Drops      map[string]int `json:"drops_by_close_code,omitempty"`
	} `json:"connections"`
	Clients        int `json:"clients"`
	ConnectFailed  int `json:"clients_not_connected"`
	ConnectedAtEnd int `json:"clients_connected_at_end"`

	Sent          uint64         `json:"sent"`
	Resent        uint64         `json:"resent"`
	Acked         uint64         `json:"acked"`
	Unacked       uint64         `json:"unacked"`
	SendErrors    uint64         `json:"send_errors"`
	Rejected      uint64         `json:"rejected"`
	GatewayErrors uint64         `json:"other_errors"`
	JoinRetries   uint64         `json:"join_retries"`
	ErrorCodes    map[string]int `json:"errors_by_code,omitempty"`

	Events          uint64  `json:"events_received"`
	Delivered       uint64  `json:"delivered"`
	DeliveredPerSec float64 `json:"delivered_per_second"`
	SentPerSec      float64 `json:"sent_per_second"`
	Latency         latency `json:"latency_ms"`

	Lost       uint64 `json:"lost"`
	Duplicated uint64 `json:"duplicated"`
	OutOfOrder uint64 `json:"out_of_order"`
	LateRetry  uint64 `json:"late_after_retry"`
	IDBackward uint64 `json:"id_not_increasing"`
	BadJoined  uint64 `json:"joined_replies_wrong"`
	NotResumed uint64 `json:"rejoins_not_recovered"`

	MetricsBefore    []metrics     `json:"metrics_before,omitempty"`
	MetricsConnected []metrics     `json:"metrics_connected,omitempty"`
	MetricsAfter     []metrics     `json:"metrics_after,omitempty"`
	PerConnection    *perConn      `json:"idle_per_connection,omitempty"`
	Samples          []metrics     `json:"soak_samples,omitempty"`
	Soak             []soakVerdict `json:"soak,omitempty"`
}

type latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func summaryConfig(c Config) map[string]any {
	return map[string]any{
		"urls": c.URLs, "clients": c.Clients, "rooms": c.Rooms, "rooms_per_client": c.RoomsPerClient,
		"publishers": c.Publishers, "rate": c.Rate, "window": c.Window, "size": c.Size,
		"duration": c.Duration.String(), "messages": c.Messages, "idle": c.Idle, "soak": c.Soak,
		"token": c.TokenSecret != "", "run": c.RunID,
	}
}

// summarize fills sum from the counters once the clients have stopped.
func (r *runner) summarize(sum *summary, sampler *sampler) {
	t := &r.tot
	s := sumClients(r.clients)
	sum.Connections.Made, sum.Connections.Failed = t.dials.Load(), t.dialFailures.Load()
	sum.Connections.Reconnects = s.reconnects
	sum.Connections.Drops = r.drops.snapshot()
	sum.ErrorCodes = r.errors.snapshot()
	sum.Sent, sum.Resent, sum.Acked = t.sent.Load(), t.resent.Load(), t.acked.Load()
	for _, p := range r.pubs {
		sum.Unacked += uint64(p.unacked())
	}
	sum.SendErrors, sum.Rejected, sum.GatewayErrors = t.sendErrors.Load(), t.rejected.Load(), t.otherErrors.Load()
	sum.JoinRetries = t.joinRetries.Load()
	sum.Events, sum.Delivered = s.events, s.delivered
	if sum.PublishSeconds > 0 {
		sum.DeliveredPerSec = float64(s.delivered) / (sum.PublishSeconds + sum.DrainSeconds)
		sum.SentPerSec = float64(sum.Sent) / sum.PublishSeconds
	}
	h := &s.latency
	sum.Latency = latency{ms(h.quantile(0.50)), ms(h.quantile(0.99)), ms(h.quantile(0.999)), ms(h.maxLatency())}
	sum.Lost, sum.Duplicated, sum.OutOfOrder = r.lost(), s.duplicated, s.late
	sum.IDBackward, sum.NotResumed, sum.LateRetry = s.idBackward, s.notResumed, s.lateRetried
	sum.BadJoined = s.badJoined
	if r.cfg.Idle {
		sum.PerConnection = perConnection(sum.MetricsBefore, sum.MetricsConnected, r.cfg.Clients)
	}
	if r.cfg.Soak {
		sum.Soak = judgeSoak(sum.Samples, r.cfg.SoakThreshold)
	}
}

// verdict is nil for a healthy run and otherwise names what went wrong.
func (s *summary) verdict() error {
	var bad []string
	check := func(n uint64, what string) {
		if n > 0 {
			bad = append(bad, fmt.Sprintf("%d %s", n, what))
		}
	}
	check(uint64(s.ConnectFailed), "clients not connected in time")
	check(uint64(max(0, s.Clients-s.ConnectFailed-s.ConnectedAtEnd)), "clients disconnected at the end")
	check(s.Lost, "lost")
	check(s.Duplicated, "duplicated")
	check(s.OutOfOrder, "out of order")
	check(s.IDBackward, "events with non-increasing ids")
	check(s.BadJoined, "wrong joined replies")
	check(s.Unacked, "unacked")
	check(s.Rejected, "rejected")
	for _, v := range s.Soak {
		if v.Grew {
			bad = append(bad, fmt.Sprintf("%s %s grew %.0f%%", v.Gateway, v.Metric, 100*v.Growth))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return errors.New("chatload: " + strings.Join(bad, ", "))
}

func (s *summary) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "connections   made %d, failed %d, reconnects %d, clients connected at end %d\n",
		s.Connections.Made, s.Connections.Failed, s.Connections.Reconnects, s.ConnectedAtEnd)
	if len(s.Connections.Drops) > 0 {
		fmt.Fprintf(&b, "drops         by close code %v\n", s.Connections.Drops)
	}
	fmt.Fprintf(&b, "messages      sent %d (%.0f/s), acked %d, unacked %d, resent %d, errors %d, rejected %d\n",
		s.Sent, s.SentPerSec, s.Acked, s.Unacked, s.Resent, s.SendErrors, s.Rejected)
	fmt.Fprintf(&b, "delivered     %d (%.0f/s), events received %d, join retries %d, other errors %d\n",
		s.Delivered, s.DeliveredPerSec, s.Events, s.JoinRetries, s.GatewayErrors)
	if len(s.ErrorCodes) > 0 {
		fmt.Fprintf(&b, "errors        by code %v\n", s.ErrorCodes)
	}
	l := s.Latency
	fmt.Fprintf(&b, "latency ms    p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", l.P50, l.P99, l.P999, l.Max)
	fmt.Fprintf(&b, "faults        lost %d, duplicated %d, out-of-order %d, id not increasing %d, joined replies wrong %d, rejoins not recovered %d\n",
		s.Lost, s.Duplicated, s.OutOfOrder, s.IDBackward, s.BadJoined, s.NotResumed)
	if s.LateRetry > 0 {
		fmt.Fprintf(&b, "not faults    %d deliveries after later ones because their first send was refused and retried\n", s.LateRetry)
	}
	writeMetrics(&b, s)
	if err := s.verdict(); err != nil {
		fmt.Fprintf(&b, "result        FAIL: %v\n", err)
	} else {
		b.WriteString("result        OK\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// progress prints a line every Config.Progress until the returned func is called.
func (r *runner) progress(w io.Writer) (stop func()) {
	if r.cfg.Progress < 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(r.cfg.Progress)
		defer tick.Stop()
		start, last := time.Now(), time.Now()
		var sent, delivered uint64
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				s := sumClients(r.clients)
				dt := now.Sub(last).Seconds()
				fmt.Fprintf(w, "%6.1fs conns %d/%d  sent/s %.0f  delivered/s %.0f  p50 %.2fms p99 %.2fms  reconnects %d dup %d ooo %d\n",
					now.Sub(start).Seconds(), r.tot.connected.Load(), r.cfg.Clients,
					float64(r.tot.sent.Load()-sent)/dt, float64(s.delivered-delivered)/dt,
					ms(s.latency.quantile(0.5)), ms(s.latency.quantile(0.99)), s.reconnects, s.duplicated, s.late)
				sent, delivered, last = r.tot.sent.Load(), s.delivered, now
			}
		}
	}()
	return func() { close(done); <-finished }
}
