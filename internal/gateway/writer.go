package gateway

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/coder/websocket"
)

// A writer whose client reads slowly waits in the write holding its batch: in a join storm
// of 10,000 clients (who read slower than the gateway writes, on this machine) the process
// held 845 MB at the peak with batches of up to 64 KB, 514 MB with 16 KB, 376 MB with 8 KB;
// at 12,000 msg/s the three delivered alike within the noise of the machine
// (docs/benchmarks.md). 16 KB still carries a couple of hundred events per system call.
const (
	batchBytes = 16 << 10 // a frame stops taking more objects past this size
	largeFrame = 8 << 10  // a frame this large is written as it is, not copied into a batch
	// batchCap is the most a batch can hold: objects under largeFrame are taken while it is
	// under batchBytes. A batch buffer is made this size and never grows, so every one goes
	// back to the pool: buffers that grew as batches came, and were dropped past a size,
	// had a join storm spend 9 % of its CPU clearing new memory.
	batchCap = batchBytes + largeFrame
)

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, batchCap); return &b }}

// wake starts the writer unless it is running. It never blocks.
func (c *conn) wake() {
	if c.writing.CompareAndSwap(false, true) {
		go c.writeLoop()
	}
}

// writeLoop writes everything queued, as newline-separated objects in as few frames as
// possible, and exits when the queue is empty (an idle connection has no writer). A frame
// taken alone is written as it is: the batch buffer is taken only for several, and given
// back once they are written. (Held until the writer ended, a join storm's thousands of
// writers waiting for a CPU each held one: a third of all the storm allocated was batch
// buffers, made anew after every collection emptied the pool.)
func (c *conn) writeLoop() {
	growStack()
	var held []*hub.Frame  // what the last Take returned; given back to the next, emptied
	var taken []*hub.Frame // the part of held not yet written
	for {
		if len(taken) == 0 {
			// Short of CPU after a small frame: wait for more (pressure.go). (Taking
			// first, and ending at once when nothing was queued, started a writer per
			// frame under load: 1.03-1.16 million deliveries a second at 12,000 msg/s
			// against 1.19.)
			if wait := c.lingerLeft(); wait > 0 {
				time.Sleep(wait)
			}
			// Let the hub queue more before taking: fewer, larger frames.
			runtime.Gosched()
			held = c.sess.Take(held[:0]) // every entry written is cleared below
			taken = held
		}
		if len(taken) == 0 {
			c.writing.Store(false)
			if c.sess.Empty() || !c.writing.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		var buf *[]byte
		var batch []byte
		if len(taken) > 1 {
			buf = batchPool.Get().(*[]byte)
			batch = *buf
		}
		data, n, events, own, code := collect(batch, taken)
		clear(taken[:n])
		taken = taken[n:]
		if len(data) > 0 {
			err := c.write(data)
			if buf != nil {
				batchPool.Put(buf) // written: data is not used after
				buf = nil
			}
			if err != nil { // broken, or cut by stuckWriters
				c.ws.CloseNow()
				return // stays "writing": nothing more is written to a broken connection
			}
			// The socket took it: the peer is reading (a dead one stops taking writes, and
			// the write timeout cuts it). A busy connection needs no ping.
			c.seen()
			c.smallAt = 0
			if len(data) < smallFrame {
				c.smallAt = monotonic()
			}
			c.g.metrics.writes.Inc()
			c.g.metrics.written.Add(float64(len(data)))
		}
		if buf != nil { // a close came first: nothing was gathered
			batchPool.Put(buf)
		}
		c.sess.Written(events, own)
		if code != 0 {
			c.cutWith.CompareAndSwap(0, int32(code))
			c.closeWS(code, closeReason(code))
			return
		}
	}
}

// collect returns what to write next from the frames taken: as many as fit in a batch,
// gathered in buf (from its start, within its capacity of batchCap; nil when only one
// frame is taken), or a lone or large first frame as it is. A close ends the batch; its code is returned. n is how many frames
// it used; events and own are their bytes (hub.Size).
func collect(buf []byte, taken []*hub.Frame) (data []byte, n, events, own, code int) {
	if f := taken[0]; len(taken) == 1 || f.Close != 0 || len(f.Data) >= largeFrame {
		events, own = hub.Size(f)
		if f.Close != 0 {
			return nil, 1, events, own, f.Close
		}
		return f.Data, 1, events, own, 0
	}
	data = buf[:0]
	for n < len(taken) && len(data) < batchBytes {
		f := taken[n]
		n++
		e, o := hub.Size(f)
		events, own = events+e, own+o
		if f.Close != 0 {
			return data, n, events, own, f.Close
		}
		if len(f.Data) >= largeFrame { // written next, as it is
			n--
			events, own = events-e, own-o
			break
		}
		if len(data) > 0 {
			data = append(data, '\n')
		}
		data = append(data, f.Data...)
	}
	return data, n, events, own, 0
}

// write writes one frame. A write that takes WriteTimeout or longer is cut by stuckWriters;
// writes carry no deadline of their own. (Contexts with timeouts were most of what a join
// storm allocated: coder/websocket hooks every cancellable context with context.AfterFunc,
// 2.2 of 3.7 GB at 10,000 joins. Socket deadlines, set before a writer's first write and
// cleared after its last, were 6 % of the gateway's CPU at 100 msg/s to 100 clients in one
// room, where every event is a writer of its own: docs/benchmarks.md, Run 13.)
func (c *conn) write(data []byte) error {
	c.writeSince.Store(int64(monotonic()))
	err := c.ws.Write(context.Background(), websocket.MessageText, data)
	c.writeSince.Store(0)
	return err
}

// stuckWriters cuts, every half WriteTimeout until ctx ends, the connections whose writer has
// been in one write for WriteTimeout or longer: their client stopped reading, and its socket
// takes nothing. So a write is cut after WriteTimeout, or at most half as long again. A
// client that reads slowly but steadily is not: each write it takes starts the time anew.
// Only connections in the set are looked at; a connection's writes before it joins the set
// (a welcome, or an error and a close when it is refused) are a few small frames that a new
// socket's buffer takes whole.
func (g *Gateway) stuckWriters(ctx context.Context) {
	d := g.cfg.WriteTimeout
	poll.Every(ctx, max(d/2, time.Millisecond), func() {
		now := monotonic()
		for _, c := range g.conns.all() {
			if since := time.Duration(c.writeSince.Load()); since != 0 && now-since >= d {
				c.cutStuck()
			}
		}
	})
}

// cutStuck cuts a connection whose client stopped reading: it finds its connection simply cut
// (a close frame would wait behind what it does not read). The cut runs on a goroutine of
// its own: CloseNow waits for a close handshake already under way (a cut for the budget, a
// ban), up to coder/websocket's 5 s, and the sweep must not wait with it.
func (c *conn) cutStuck() {
	if c.cutAs(protocol.CloseSlow) {
		c.log().Info("client stopped reading; connection cut")
	}
	go c.ws.CloseNow()
}

func closeReason(code int) string {
	switch code {
	case protocol.CloseGoingAway:
		return "gateway shutting down, reconnect and rejoin with since"
	case protocol.CloseInternal:
		return "internal error"
	case protocol.CloseTryLater:
		return "retry later"
	}
	return ""
}
