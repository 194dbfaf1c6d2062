package control

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/poll"
)

// noticeEvery is how long online/offline notices gather before they go out together.
const noticeEvery = 50 * time.Millisecond

// coalescer gathers the online/offline notices that every local session receives and hands
// them to the local sessions as one frame per interval: when N users connect at once, each session
// gets a few frames holding N notices, not N frames (N² in all). A notice that comes after a
// quiet interval goes out at once, so in the usual case nothing waits.
type coalescer struct {
	mu   sync.Mutex // guards buf and last; no I/O under it
	buf  [][]byte
	last time.Time // when notices last went out
}

// add sends notice at once when none went out within the interval, else gathers it for
// run. It is called from one goroutine (the notices' subscription), so notices keep their
// order.
func (c *coalescer) add(notice []byte, send func([]byte)) {
	now := time.Now()
	c.mu.Lock()
	if len(c.buf) == 0 && now.Sub(c.last) >= noticeEvery {
		c.last = now
		c.mu.Unlock()
		send(notice)
		return
	}
	c.buf = append(c.buf, notice)
	c.mu.Unlock()
}

// take returns what has gathered, as one frame of newline-separated notices, or nil.
func (c *coalescer) take() []byte {
	c.mu.Lock()
	buf := c.buf
	c.buf = nil
	if len(buf) > 0 {
		c.last = time.Now()
	}
	c.mu.Unlock()
	if len(buf) == 0 {
		return nil
	}
	return bytes.Join(buf, []byte{'\n'})
}

// run hands the gathered notices to send every interval until ctx ends.
func (c *coalescer) run(ctx context.Context, every time.Duration, send func([]byte)) {
	poll.Every(ctx, every, func() {
		if data := c.take(); data != nil {
			send(data)
		}
	})
}
