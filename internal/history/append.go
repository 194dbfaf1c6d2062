package history

import (
	"context"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

// Append stores payload as the newest event of room and returns its id.
//
// msgID, when not empty, is sent as Nats-Msg-Id: a retry with the same msgID within
// Config.Duplicates is stored once, and then dup is true and id is the original event's id.
// hdr carries extra headers (ours are named "Chat-..."); it may be nil and is not modified.
// An outage returns an error wrapping ErrUnavailable; nothing was stored then, unless a
// timeout hid a store that did happen (retry with the same msgID to find out).
func (s *Store) Append(ctx context.Context, room string, payload []byte, msgID string, hdr nats.Header) (id uint64, dup bool, err error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	msg, opts := message(room, payload, msgID, hdr)
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return 0, false, failed("append to "+room, err)
	}
	return ack.Sequence, ack.Duplicate, nil
}

// message builds the publish of an event and its options: the room's subject, our headers
// (copied, never modified), the expected stream and the message id.
func message(room string, payload []byte, msgID string, hdr nats.Header) (*nats.Msg, []jetstream.PublishOpt) {
	msg := &nats.Msg{Subject: subject.Events(room), Data: payload}
	if len(hdr) > 0 {
		msg.Header = make(nats.Header, len(hdr))
		for k, v := range hdr {
			msg.Header[k] = v
		}
	}
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(subject.Stream)}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	return msg, opts
}

// Headers are our own headers of a stored event, for operators reading the stream.
// Events that refer to a message (edit, delete, reaction) add Chat-Target (WithTarget).
func Headers(typ, user, session string) nats.Header {
	h := nats.Header{}
	h.Set("Chat-Type", typ)
	h.Set("Chat-User", user)
	if session != "" {
		h.Set("Chat-Session", session)
	}
	return h
}

// WithTarget adds the Chat-Target header, the id of the message an event refers to.
func WithTarget(h nats.Header, target uint64) nats.Header {
	h.Set("Chat-Target", strconv.FormatUint(target, 10))
	return h
}
