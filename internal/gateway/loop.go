package gateway

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
)

// The connection's loop runs only while it has work: a frame the reader offers, a request in
// the inbox, a message awaiting its acknowledgement. Whoever brings work starts it
// (wakeLoop) unless it runs; it lets go when none is left (letGo). The looping flag says
// which goroutine owns the loop's fields: the one that set it, until it stores false. A new
// connection's flag is set: the goroutine that opens it owns the loop until it lets go.

// read hands the client's frames to the loop until the connection ends; then it closes
// frames, and the loop tears the connection down. When the client has sent nothing more,
// it hands over to a goroutine that waits for more with a small stack (waitForFrame) and
// ends (idle.go).
func (c *conn) read() {
	for {
		// (Never once the gateway closes: idleReader.ending, set by closeWS.)
		idle := c.idle != nil && c.idle.canStop()
		if idle {
			c.idle.may.Store(true)
		}
		typ, data, err := c.ws.Read(context.Background())
		if idle {
			c.idle.may.Store(false)
		}
		if idle && errors.Is(err, errIdle) {
			// Parked, the connection has no goroutine until its client sends something;
			// where it cannot be, a goroutine with a small stack waits.
			if !c.idle.park(c.read) {
				go c.waitForFrame()
			}
			return
		}
		if err != nil {
			c.readErr = err
			c.offered.Add(1) // the loop must see frames closed
			close(c.frames)
			close(c.ended)
			c.wakeLoop()
			return
		}
		c.seen()
		c.offered.Add(1)
		c.wakeLoop()
		select {
		case c.frames <- frame{typ, data}:
		case <-c.done:
			return
		}
	}
}

// waitForFrame waits for the client's next byte, then reads on.
func (c *conn) waitForFrame() {
	c.idle.waitForData()
	c.read()
}

// ask queues req for the loop. It never blocks.
func (c *conn) ask(req request) {
	c.inbox.queue(req)
	c.wakeLoop()
}

// wakeLoop starts the loop unless it runs. It never blocks.
func (c *conn) wakeLoop() {
	if c.looping.CompareAndSwap(false, true) {
		go c.serve()
	}
}

// called reports whether others have work for a loop that has taken taken frames: a frame
// offered, or a request.
func (c *conn) called(taken uint64) bool { return c.offered.Load() != taken || !c.inbox.empty() }

// letGo gives up the loop when it has no work, and reports whether it did; then the
// caller must not touch the loop's fields. An idle connection holds no ack timer.
func (c *conn) letGo() bool {
	if !c.acks.empty() || c.called(c.taken) {
		return false
	}
	c.acks.idle()
	taken := c.taken // the loop's fields are not this goroutine's once it lets go
	c.looping.Store(false)
	// Work that came after the check, and saw the loop running, is taken here, or by the
	// loop its sender started.
	return !c.called(taken) || !c.looping.CompareAndSwap(false, true)
}

// release lets go of the loop after opening, or runs it on a goroutine of its own (with a
// small stack) when work came meanwhile.
func (c *conn) release() {
	if !c.letGo() {
		go c.serve()
	}
}

// serve is the connection's loop: it runs the client's frames and the inbox's requests,
// and answers acknowledgements as the stream gives them, until it is idle (wakeLoop starts
// it again) or the reader ends; then it tears the connection down. Its caller holds the
// loop.
func (c *conn) serve() {
	ctx := context.Background()
	for {
		if c.letGo() {
			return
		}
		frames, drained, ended := c.frames, (<-chan struct{})(nil), (<-chan struct{})(nil)
		switch {
		case c.acks.full():
			frames = nil // run no more commands until the oldest message is answered
		case c.overReplyLimit() && !c.readerEnded:
			// Nor while the client has much to read; but a reader that ended (a writer that
			// failed drains nothing) is taken at once.
			frames, drained, ended = nil, c.sess.Drained(), c.ended
		}
		u, stored, failed, timeout := c.acks.waits()
		select {
		case f, ok := <-frames:
			c.taken++
			if !ok {
				c.teardown(c.readErr)
				close(c.done)
				c.g.conns.remove(c)
				return // holding the loop: nothing runs on this connection again
			}
			if !c.closing {
				c.handle(ctx, f)
			}
		case <-drained:
		case <-ended:
			c.readerEnded = true
		case <-c.inbox.ready():
			for _, req := range c.inbox.take() {
				req(ctx, c)
			}
		case ack := <-stored:
			c.settle(ctx, u, ack, nil, false)
		case err := <-failed:
			c.settle(ctx, u, nil, err, errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded))
		case <-timeout:
			c.settle(ctx, u, nil, errNoAnswer, true)
		}
	}
}
