package history

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Pending is an append sent and not yet acknowledged.
type Pending struct {
	room string
	ack  jetstream.PubAckFuture
}

// AppendAsync sends payload like Append but returns at once: the event is stored, and its
// id known, when Wait returns. Appends sent by one caller are stored in the order sent.
func (s *Store) AppendAsync(room string, payload []byte, msgID string, hdr nats.Header) (Pending, error) {
	msg, opts := message(room, payload, msgID, hdr)
	opts = append(opts, jetstream.WithStallWait(defaultTimeout))
	ack, err := s.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		return Pending{}, failed("append to "+room, err)
	}
	return Pending{room: room, ack: ack}, nil
}

// Wait waits for the append's acknowledgement (at most the default deadline when ctx has
// none) and returns what Append would have.
func (p Pending) Wait(ctx context.Context) (id uint64, dup bool, err error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	select {
	case ack := <-p.ack.Ok():
		return ack.Sequence, ack.Duplicate, nil
	case err := <-p.ack.Err():
		return 0, false, failed("append to "+p.room, err)
	case <-ctx.Done():
		return 0, false, failed("append to "+p.room, ctx.Err())
	}
}

// Stored delivers the stream's acknowledgement (its Sequence is the event's id, Duplicate
// tells a message id seen before), for callers that wait on several things at once.
func (p Pending) Stored() <-chan *jetstream.PubAck { return p.ack.Ok() }

// Failed delivers why the append failed. A timeout does not say nothing was stored.
func (p Pending) Failed() <-chan error { return p.ack.Err() }
