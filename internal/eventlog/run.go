package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// runner moves events from the consumer to the file. Everything but msgc is owned by the
// goroutine of Run.
type runner struct {
	f      *file
	stream jetstream.Stream
	nc     *nats.Conn
	log    *slog.Logger
	msgc   chan jetstream.Msg // sent by the Consume callback
	acks   []jetstream.Msg    // handled since the last flush; acked after it
	timer  *time.Timer        // fires flushEvery after the first event since a flush
	armed  bool               // timer is running
}

// run consumes until ctx ends, then drains what already arrived and flushes.
func (r *runner) run(ctx context.Context, cons jetstream.Consumer) error {
	done := make(chan struct{})
	defer close(done)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case r.msgc <- m:
		case <-done:
		}
	}, jetstream.PullMaxMessages(pullBatch), jetstream.ConsumeErrHandler(r.consumeErr))
	if err != nil {
		return fmt.Errorf("eventlog: consume: %w", err)
	}
	defer cc.Stop()
	r.timer = time.NewTimer(flushEvery)
	r.timer.Stop()
	defer r.timer.Stop()
	if err := r.loop(ctx); err != nil {
		return err
	}
	return r.stop(ctx, cc)
}

func (r *runner) loop(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-r.msgc:
			if err := r.take(ctx, m); err != nil {
				return err
			}
		case <-r.timer.C:
			r.armed = false
			if err := r.flush(); err != nil {
				return err
			}
		}
	}
}

// stop lets the consumer hand over what it already holds, and writes it.
func (r *runner) stop(ctx context.Context, cc jetstream.ConsumeContext) error {
	cc.Drain()
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancel()
	for {
		select {
		case m := <-r.msgc:
			if err := r.take(dctx, m); err != nil {
				return err
			}
		case <-cc.Closed():
			return r.finish(dctx)
		case <-dctx.Done():
			return r.finish(dctx)
		}
	}
}

// finish handles what is left in msgc, flushes, and pushes the last acks to the server.
func (r *runner) finish(ctx context.Context) error {
	for {
		select {
		case m := <-r.msgc:
			if err := r.take(ctx, m); err != nil {
				return err
			}
		default:
			if err := r.flush(); err != nil {
				return err
			}
			if err := r.nc.FlushWithContext(ctx); err != nil {
				r.log.Debug("eventlog: last acks not confirmed sent", "err", err)
			}
			return nil
		}
	}
}

func (r *runner) consumeErr(_ jetstream.ConsumeContext, err error) {
	if errors.Is(err, context.Canceled) {
		r.log.Debug("eventlog: consume", "err", err)
		return
	}
	r.log.Warn("eventlog: consume", "err", err)
}
