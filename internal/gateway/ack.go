package gateway

import (
	"context"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// maxUnacked is how many messages of one session may be on their way to the stream at
	// once; the loop reads no more frames beyond it.
	maxUnacked = 32
	// ackWait is how long one attempt to store a message waits for the stream's answer.
	// When the oldest message gets none (a stream leader that died with the messages, a
	// paused server), every waiting message with a ref is sent again under the same message
	// id, which the stream stores at most once, until ackTries attempts are spent.
	ackWait  = 5 * time.Second
	ackTries = 2
)

// unacked is a message sent to the stream and waiting for its acknowledgement.
type unacked struct {
	ref, room string
	msgID     string      // "" when the message has no ref: it cannot be sent again safely
	data      []byte      // the stored payload, to send again
	hdr       nats.Header // its headers
	pending   history.Pending
	start     time.Time // when it was first sent
	deadline  time.Time // when the current attempt gives up
	tries     int
	// after, when set, runs once the event is stored and before it is acked (a delete
	// erases its target); an error it returns is the answer instead of the ack.
	after func(ctx context.Context, ack *jetstream.PubAck) *protocol.Error
}

// ackQueue holds a session's messages in the order sent; they are stored, and answered,
// in that order. Owned by the connection's loop.
type ackQueue struct {
	q     []*unacked
	timer *time.Timer // set to the oldest message's deadline while there is one
}

func (a *ackQueue) full() bool { return len(a.q) >= maxUnacked }

func (a *ackQueue) empty() bool { return len(a.q) == 0 }

// idle lets go of the timer while nothing waits: an idle connection holds none.
func (a *ackQueue) idle() {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
}

func (a *ackQueue) push(u *unacked) { a.q = append(a.q, u) }

func (a *ackQueue) pop() {
	a.q[0] = nil
	a.q = a.q[1:]
}

// waits returns the oldest message (nil when none) and the channels the loop waits on for
// it: its acknowledgement, its failure and its deadline.
func (a *ackQueue) waits() (*unacked, <-chan *jetstream.PubAck, <-chan error, <-chan time.Time) {
	if len(a.q) == 0 {
		return nil, nil, nil, nil
	}
	u := a.q[0]
	d := time.Until(u.deadline)
	if a.timer == nil {
		a.timer = time.NewTimer(d)
	} else {
		a.timer.Reset(d)
	}
	return u, u.pending.Stored(), u.pending.Failed(), a.timer.C
}

// send sends a message to the stream, first or again, unless its user is banned from
// the room (control.ErrBanned): the check and the hand-over to NATS are one step against
// a ban (control.State.Sending), which is what makes a ban's ack exact.
func (c *conn) send(u *unacked) error {
	var p history.Pending
	err := c.g.control.State().Sending(u.room, c.sess.User, func() (err error) {
		p, err = c.g.store.AppendAsync(u.room, u.data, u.msgID, u.hdr)
		return err
	})
	if err != nil {
		return err
	}
	u.pending, u.tries, u.deadline = p, u.tries+1, time.Now().Add(ackWait)
	return nil
}

// acked answers a stored message.
func (c *conn) acked(u *unacked, ack *jetstream.PubAck) {
	since(c.g.metrics.publish, u.start)
	c.reply(protocol.Encode(protocol.Ack{Type: protocol.TypeAck, Ref: u.ref, ChatroomID: u.room, ID: ack.Sequence}))
}

// notStored answers a message the stream refused, or did not answer in time (timedOut):
// then it may have been stored, and the error says so.
func (c *conn) notStored(u *unacked, err error, timedOut bool) {
	since(c.g.metrics.publish, u.start)
	e := c.failure("message not stored", err)
	if timedOut {
		e = errUnconfirmed
	}
	c.g.metrics.rejected.WithLabelValues(e.Code).Inc()
	c.reply(protocol.EncodeError(u.ref, e))
}

// expired handles the oldest message's deadline: the stream did not answer it, nor likely
// the ones sent after it. Every waiting message with a ref and tries left is sent again
// under its message id (the stream stores each at most once and answers with its id);
// the oldest, if it cannot be, is answered as unconfirmed.
func (c *conn) expired(u *unacked) {
	for _, w := range c.acks.q {
		if w.msgID != "" && w.tries < ackTries {
			if err := c.send(w); err != nil {
				c.log().Warn("message not sent again", "err", err)
			}
		}
	}
	if time.Now().Before(u.deadline) {
		return // sent again: waiting anew
	}
	c.acks.pop()
	c.notStored(u, errNoAnswer, true)
}

var errUnconfirmed = protocol.Errorf(protocol.CodeUnavailable,
	"the event stream did not confirm the message in time; it may have been stored: send it again with the same ref, which stores it at most once")

// settle handles what the loop heard of the oldest message.
func (c *conn) settle(ctx context.Context, u *unacked, ack *jetstream.PubAck, err error, timedOut bool) {
	if timedOut {
		c.expired(u)
		return
	}
	c.acks.pop()
	if ack != nil && u.after != nil {
		actx, cancel := context.WithTimeout(ctx, c.g.cfg.JoinTimeout)
		e := u.after(actx, ack)
		cancel()
		if e != nil {
			c.reply(protocol.EncodeError(u.ref, e))
			return
		}
	}
	if ack != nil {
		c.acked(u, ack)
		return
	}
	c.notStored(u, err, false)
}
