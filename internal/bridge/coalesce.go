package bridge

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/hub"
)

// noticeEvery is how long online/offline notices gather before they go out together.
const noticeEvery = 50 * time.Millisecond

// coalescer gathers the online/offline notices that every local session receives and hands
// them to the hub as one frame per interval: when N users connect at once, each session
// gets a few frames holding N notices, not N frames (N² in all).
type coalescer struct {
	mu  sync.Mutex // guards buf; no I/O under it
	buf [][]byte
}

func (c *coalescer) add(notice []byte) {
	c.mu.Lock()
	c.buf = append(c.buf, notice)
	c.mu.Unlock()
}

// take returns what has gathered, as one frame of newline-separated notices, or nil.
func (c *coalescer) take() *hub.Frame {
	c.mu.Lock()
	buf := c.buf
	c.buf = nil
	c.mu.Unlock()
	if len(buf) == 0 {
		return nil
	}
	return &hub.Frame{Data: bytes.Join(buf, []byte{'\n'})}
}

// run hands the gathered notices to send every interval until ctx ends.
func (c *coalescer) run(ctx context.Context, every time.Duration, send func(*hub.Frame)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if f := c.take(); f != nil {
				send(f)
			}
		}
	}
}
