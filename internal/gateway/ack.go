package gateway

import (
	"context"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
)

// maxUnacked is how many messages of one session may be on their way to the stream at
// once; the reader waits beyond it.
const maxUnacked = 32

// ackJob is a message sent to the stream and waiting for its acknowledgement.
type ackJob struct {
	ref, room string
	pending   history.Pending
	start     time.Time
}

// awaitAck hands a sent message to the acker, which answers ack (or the error) once the
// stream has stored it. The reader goes on with the next command meanwhile, so a client
// that sends several messages has them stored in one round trip rather than one each;
// they are stored, and acked, in the order sent.
func (c *conn) awaitAck(j *ackJob) {
	if c.acks == nil {
		c.acks = make(chan *ackJob, maxUnacked) // only the reader sends; made on first use
	}
	c.acks <- j
	if c.acking.CompareAndSwap(false, true) {
		go c.ackLoop(c.acks)
	}
}

// ackLoop answers acknowledgements in order and exits when none is waiting (an idle
// connection has no acker).
func (c *conn) ackLoop(acks chan *ackJob) {
	for {
		select {
		case j := <-acks:
			c.answer(j)
		default:
			c.acking.Store(false)
			if len(acks) == 0 || !c.acking.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

func (c *conn) answer(j *ackJob) {
	id, _, err := j.pending.Wait(context.Background())
	since(c.g.metrics.publish, j.start)
	if err != nil {
		e := c.failure("message not stored", err)
		c.g.metrics.rejected.WithLabelValues(e.Code).Inc()
		c.reply(protocol.EncodeError(j.ref, e))
		return
	}
	c.reply(protocol.Encode(protocol.Ack{Type: protocol.TypeAck, Ref: j.ref, ChatroomID: j.room, ID: id}))
}
