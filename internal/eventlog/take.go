package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

// errStream marks a failed read of the stream: the event is retried later.
var errStream = errors.New("eventlog: read stream")

// take writes one delivered event (after any events missing before it) unless the file
// already holds it, and queues its ack for after the next flush.
func (r *runner) take(ctx context.Context, m jetstream.Msg) error {
	md, err := m.Metadata()
	if err != nil {
		r.log.Warn("eventlog: message without metadata ignored", "subject", m.Subject(), "err", err)
		return nil
	}
	id := md.Sequence.Stream
	if id > r.f.last+1 {
		if err := r.fill(ctx, id); err != nil {
			if !errors.Is(err, errStream) {
				return err
			}
			r.log.Warn("eventlog: cannot read missing events; retrying", "before", id, "err", err)
			m.NakWithDelay(retryDelay)
			return nil
		}
	}
	if id > r.f.last {
		if err := r.f.write(id, m.Data()); err != nil {
			return err
		}
	}
	r.acks = append(r.acks, m)
	return r.pace()
}

// fill writes, from the stream itself, the events after the last line and before id. They
// are events delivered out of order or acked without reaching the file; their own deliveries,
// if any come, find them written.
func (r *runner) fill(ctx context.Context, id uint64) error {
	for r.f.last+1 < id {
		raw, err := r.stream.GetMsg(ctx, r.f.last+1, jetstream.WithGetMsgSubject(subject.EventsAll))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %w", errStream, err)
		}
		if raw.Sequence >= id {
			return nil
		}
		if err := r.f.write(raw.Sequence, raw.Data); err != nil {
			return err
		}
		r.log.Debug("eventlog: filled from stream", "id", raw.Sequence)
	}
	return nil
}

// catchUp writes from the stream the events the consumer acked but the file lacks (lines
// lost after their ack, or a file replaced by an older copy): no delivery would bring them.
func (r *runner) catchUp(ctx context.Context, ackFloor uint64) error {
	if ackFloor <= r.f.last {
		return nil
	}
	r.log.Warn("eventlog: file is behind its consumer; copying from the stream",
		"file_last", r.f.last, "ack_floor", ackFloor)
	if err := r.fill(ctx, ackFloor+1); err != nil {
		return err
	}
	return r.f.sync()
}

// pace flushes after flushLines events, or arms the timer that flushes after flushEvery.
func (r *runner) pace() error {
	if len(r.acks) >= flushLines || r.f.lines >= flushLines {
		return r.flush()
	}
	if !r.armed {
		r.timer.Reset(flushEvery)
		r.armed = true
	}
	return nil
}

// flush makes the written lines durable, then acks the events they hold.
func (r *runner) flush() error {
	if r.armed {
		r.timer.Stop()
		r.armed = false
	}
	if err := r.f.sync(); err != nil {
		return err
	}
	for _, m := range r.acks {
		if err := m.Ack(); err != nil {
			r.log.Debug("eventlog: ack", "err", err)
		}
	}
	clear(r.acks)
	r.acks = r.acks[:0]
	return nil
}
