package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/chathub/chathub/internal/poll"
	"github.com/nats-io/nats.go/jetstream"
)

// runner is the state of one Run, owned by its goroutine.
type runner struct {
	d        *Deliverer
	pull     jetstream.MessageBatch // the open pull request; nil when none
	held     []held                 // handed to this gateway, not yet delivered, in stream order
	done     uint64                 // every event up to this sequence has been delivered
	received time.Time              // when an event last arrived (this gateway was pinned then)
}

type held struct {
	seq uint64
	msg jetstream.Msg // the newest delivery of the event (its ack subject)
}

// Run delivers events until ctx ends, then hands back what it holds (Nak) so another gateway
// can take over at once. Failures are logged and retried; Run returns only when ctx ends.
func (d *Deliverer) Run(ctx context.Context) {
	r := &runner{d: d}
	defer r.handOver()
	for ctx.Err() == nil {
		if len(r.held) == 0 {
			r.wait(ctx)
			continue
		}
		r.take()
		r.deliver(ctx)
	}
}

// open starts a pull request when none is open; false when it cannot be sent.
func (r *runner) open() bool {
	if r.pull != nil {
		return true
	}
	// FetchMaxWait, not FetchContext: the request then ends when the server says it expired,
	// after every message it handed to it; with a context the client stops reading at the
	// deadline and drops what the server sent just before (redelivered only after AckWait).
	b, err := r.d.cons.Fetch(r.d.cfg.MaxBatch, jetstream.FetchMaxWait(r.d.cfg.Poll), jetstream.FetchPriorityGroup(group))
	if err != nil {
		r.d.log.Warn("webhook: pull request failed", "err", err)
		return false
	}
	r.pull = b
	return true
}

// ended notes that the open pull request is over, and returns why when it failed.
func (r *runner) ended() error {
	err := r.pull.Error()
	if errors.Is(err, jetstream.ErrPinIDMismatch) {
		r.d.log.Info("webhook: another gateway delivers now")
		err = nil
	}
	r.pull = nil
	return err
}

// wait blocks until an event arrives, the pull request ends, or ctx ends.
func (r *runner) wait(ctx context.Context) {
	if !r.open() {
		poll.Sleep(ctx, r.d.cfg.Poll)
		return
	}
	select {
	case <-ctx.Done():
	case m, ok := <-r.pull.Messages():
		if !ok {
			if err := r.ended(); err != nil {
				r.d.log.Warn("webhook: pull request failed", "err", err)
				poll.Sleep(ctx, r.d.cfg.MinBackoff) // no hot loop on a server that refuses at once
			}
			return
		}
		r.add(m)
	}
}

// take adds what has already arrived, without waiting.
func (r *runner) take() {
	for r.pull != nil {
		select {
		case m, ok := <-r.pull.Messages():
			if !ok {
				if err := r.ended(); err != nil {
					r.d.log.Debug("webhook: pull request failed", "err", err)
				}
				return
			}
			r.add(m)
		default:
			return
		}
	}
}

// add holds an event handed to this gateway, in stream order (redeliveries come in the order
// their ack waits ended, not in stream order). A redelivery of one held replaces it (its ack
// subject is the one that counts now); one already delivered is acknowledged again.
func (r *runner) add(m jetstream.Msg) {
	r.received = time.Now()
	md, err := m.Metadata()
	if err != nil {
		r.d.log.Warn("webhook: message without metadata ignored", "subject", m.Subject(), "err", err)
		return
	}
	seq := md.Sequence.Stream
	if seq <= r.done {
		_ = m.Ack()
		return
	}
	i, found := slices.BinarySearchFunc(r.held, seq, func(h held, seq uint64) int { return cmp.Compare(h.seq, seq) })
	if found {
		r.held[i].msg = m
		return
	}
	r.held = slices.Insert(r.held, i, held{seq, m})
}

// deliver posts the next batch until a 2xx, then acknowledges its held events.
func (r *runner) deliver(ctx context.Context) {
	events, n, err := r.batch(ctx)
	if err != nil {
		r.d.log.Warn("webhook: cannot read the stream; retrying", "err", err)
		r.pause(ctx, r.d.cfg.MinBackoff)
		return
	}
	if len(events) == 0 {
		return
	}
	b := body(events)
	delivery := fmt.Sprintf("%d-%d", events[0].id, events[len(events)-1].id)
	for failed := 0; ; {
		err := r.d.post(ctx, b, delivery)
		if err == nil {
			r.ack(ctx, n)
			r.done = events[len(events)-1].id
			r.d.metrics.delivered.Add(float64(len(events)))
			return
		}
		if ctx.Err() != nil {
			return
		}
		failed++
		wait := r.d.backoff(failed)
		r.d.metrics.failed.Inc()
		r.d.log.Warn("webhook: delivery failed", "delivery", delivery, "attempt", failed, "err", err, "retry_in", wait)
		if !r.pause(ctx, wait) {
			return
		}
	}
}

// pause waits d while keeping the held events and the pin alive.
func (r *runner) pause(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	tick := time.NewTicker(min(r.d.cfg.Poll, r.d.cfg.AckWait/3))
	defer tick.Stop()
	r.keepAlive()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-tick.C:
			r.keepAlive()
		}
	}
}

// keepAlive takes what arrived, keeps a pull request open (each one renews the pin) and tells
// the server the held events are still being worked on (each InProgress restarts AckWait).
func (r *runner) keepAlive() {
	r.take()
	r.open()
	for _, h := range r.held {
		_ = h.msg.InProgress()
	}
}

// ack acknowledges the first n held events; the last one waits for the server's answer, so
// that the next pull request finds them acknowledged.
func (r *runner) ack(ctx context.Context, n int) {
	if n == 0 {
		return
	}
	for _, h := range r.held[:n-1] {
		_ = h.msg.Ack()
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.d.cfg.Timeout)
	defer cancel()
	if err := r.held[n-1].msg.DoubleAck(actx); err != nil {
		r.d.log.Warn("webhook: ack not confirmed; the batch may be delivered again", "err", err)
	}
	rest := copy(r.held, r.held[n:])
	clear(r.held[rest:])
	r.held = r.held[:rest]
}

// handOver unpins, then gives back what this gateway holds (Nak), so that another gateway
// takes over at once. Once unpinned, the server hands nothing more to this gateway's last
// pull request (its pin no longer matches): the next time it has events to hand out it ends
// that request (423), after everything it handed to it before. So the request is read to
// its end and what comes is given back too: a flush alone is not enough, because the
// client moves a request's messages to Messages() on a goroutine of its own, which may not
// have moved them yet (under load it had not, and those events waited for AckWait). The
// wait is bounded by Poll (when the request ends anyway) and by two seconds.
// Should the next gateway still be handed newer events first, it reads the missing ones
// from the stream (see batch).
func (r *runner) handOver() {
	r.take()
	if len(r.held) == 0 && time.Since(r.received) > r.d.cfg.PinnedTTL {
		return // not pinned lately: the pin, if any, is another gateway's
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(2*time.Second, r.d.cfg.Poll+500*time.Millisecond))
	defer cancel()
	if err := r.d.stream.UnpinConsumer(ctx, r.d.cfg.Durable, group); err != nil {
		r.d.log.Debug("webhook: unpin", "err", err)
	}
	r.take()
	for _, h := range r.held {
		_ = h.msg.Nak()
	}
	// With nothing given back the server has nothing to hand out and does not end the
	// request soon: then only what reached this client before the flush is waited for.
	if len(r.held) == 0 {
		_ = r.d.nc.FlushWithContext(ctx)
		var cancelShort context.CancelFunc
		ctx, cancelShort = context.WithTimeout(ctx, 250*time.Millisecond)
		defer cancelShort()
	}
	for r.pull != nil {
		select {
		case m, ok := <-r.pull.Messages():
			if !ok {
				_ = r.ended()
				continue
			}
			r.giveBack(m)
		case <-ctx.Done():
			r.pull = nil // the request is left to expire; nothing more is handed to it
		}
	}
	fctx, fcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer fcancel()
	if err := r.d.nc.FlushWithContext(fctx); err != nil {
		r.d.log.Debug("webhook: naks not confirmed sent", "err", err)
	}
}

// giveBack hands m back to the server for another gateway, unless this gateway has
// delivered it already: a redelivery of an event whose ack was lost is acknowledged again,
// as add does, so the next gateway does not post it a second time.
func (r *runner) giveBack(m jetstream.Msg) {
	if md, err := m.Metadata(); err == nil && md.Sequence.Stream <= r.done {
		_ = m.Ack()
		return
	}
	_ = m.Nak()
}
