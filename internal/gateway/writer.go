package gateway

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/coder/websocket"
)

const (
	batchBytes   = 64 << 10  // a frame stops taking more objects past this size
	largeFrame   = 32 << 10  // a frame this large is written as it is, not copied into a batch
	pooledBuffer = 128 << 10 // larger batch buffers are left to the collector, not kept for reuse
)

var batchPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// wake starts the writer unless it is running. It never blocks.
func (c *conn) wake() {
	if c.writing.CompareAndSwap(false, true) {
		go c.writeLoop()
	}
}

// writeLoop writes everything queued, as newline-separated objects in as few frames as
// possible, and exits when the queue is empty (an idle connection has no writer).
func (c *conn) writeLoop() {
	buf := batchPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= pooledBuffer {
			batchPool.Put(buf)
		}
	}()
	for {
		// Let the hub queue more before collecting: fewer, larger frames.
		runtime.Gosched()
		buf.Reset()
		data, code := c.collect(buf)
		if len(data) > 0 {
			if err := c.write(data); err != nil {
				c.writeFailed(err)
				return // stays "writing": nothing more is written to a broken connection
			}
		}
		if code != 0 {
			c.cutWith.CompareAndSwap(0, int32(code))
			_ = c.ws.Close(websocket.StatusCode(code), closeReason(code))
			return
		}
		if len(data) == 0 {
			c.writing.Store(false)
			if len(c.sess.Out()) == 0 || !c.writing.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// collect returns what to write next: the queued frames gathered in buf until the queue
// is empty or the batch is large, or a large first frame as it is. A queued close ends the
// batch; its code is returned.
func (c *conn) collect(buf *bytes.Buffer) ([]byte, int) {
	out := c.sess.Out()
	for buf.Len() < batchBytes {
		select {
		case f := <-out:
			if f.Close != 0 {
				return buf.Bytes(), f.Close
			}
			if buf.Len() == 0 && len(f.Data) >= largeFrame {
				return f.Data, 0
			}
			if buf.Len() > 0 {
				buf.WriteByte('\n')
			}
			buf.Write(f.Data)
		default:
			return buf.Bytes(), 0
		}
	}
	return buf.Bytes(), 0
}

// writeFailed cuts a connection whose write failed. A write that ran out of time is a
// client that stopped reading: cut as too slow (it finds its connection simply cut).
func (c *conn) writeFailed(err error) {
	if errors.Is(err, context.DeadlineExceeded) && c.cutWith.CompareAndSwap(0, protocol.CloseSlow) {
		c.g.metrics.slow.Inc()
		c.log.Info("client stopped reading; connection cut")
	}
	c.ws.CloseNow()
}

func (c *conn) write(data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.g.cfg.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, data)
}

func closeReason(code int) string {
	switch code {
	case protocol.CloseGoingAway:
		return "gateway shutting down, reconnect and rejoin with since"
	case protocol.CloseInternal:
		return "event stream unavailable, retry later"
	case protocol.CloseTryLater:
		return "too many connections, retry later"
	}
	return ""
}
