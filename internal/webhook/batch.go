package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

// batch is the next request's events: the held events from the lowest one not yet delivered,
// up to MaxBatch, with any event missing between them read from the stream. It returns the
// events and how many of the held ones they include (the first n).
//
// Events go missing when another gateway holds them, or held them and died: after a takeover
// the server hands out newer events before the redeliveries that are not due yet, and
// redeliveries come in the order their ack waits ended. Reading the missing ones from the
// stream keeps the requests in stream order; when their redeliveries come they are
// acknowledged as delivered (add). The consumer's ack floor says where "not yet delivered"
// starts when this gateway has not delivered the events just before its first held one.
func (r *runner) batch(ctx context.Context) ([]event, int, error) {
	if r.held[0].seq != r.done+1 {
		info, err := r.d.cons.Info(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("consumer info: %w", err)
		}
		r.d.log.Debug("webhook: events missing before the first held; from the ack floor on",
			"first_held", r.held[0].seq, "delivered", r.done, "ack_floor", info.AckFloor.Stream,
			"ack_pending", info.NumAckPending, "gateway", r.d.cfg.Gateway)
		if floor := info.AckFloor.Stream; floor > r.done {
			r.done = floor
			r.dropDelivered()
		}
	}
	var events []event
	next, n := r.done+1, 0
	for n < len(r.held) && len(events) < r.d.cfg.MaxBatch {
		h := r.held[n]
		if h.seq > next {
			raw, err := r.d.stream.GetMsg(ctx, next, jetstream.WithGetMsgSubject(subject.EventsAll))
			switch {
			case errors.Is(err, jetstream.ErrMsgNotFound):
				next = h.seq
			case err != nil:
				return nil, 0, fmt.Errorf("read event %d: %w", next, err)
			case raw.Sequence < h.seq:
				events = append(events, event{raw.Sequence, raw.Data})
				next = raw.Sequence + 1
			default:
				next = h.seq // nothing stored in between
			}
			continue
		}
		events = append(events, event{h.seq, h.msg.Data()})
		next = h.seq + 1
		n++
	}
	return events, n, nil
}

// dropDelivered acknowledges and drops the held events at or below done.
func (r *runner) dropDelivered() {
	i := 0
	for i < len(r.held) && r.held[i].seq <= r.done {
		_ = r.held[i].msg.Ack()
		i++
	}
	r.held = slices.Delete(r.held, 0, i)
}
