package gateway

import (
	"context"
	"sync"
)

// inbox carries requests from other goroutines (a private room opened by someone else, a
// server-side disconnect) to a connection's loop, which runs them in order. Sending never
// blocks.
type inbox struct {
	mu     sync.Mutex // guards reqs; no I/O under it
	reqs   []request
	signal chan struct{} // holds one token while reqs is not empty
}

// request is run by the connection's loop, which owns c.
type request func(ctx context.Context, c *conn)

// queue adds r to the requests. Only conn.ask calls it: an idle connection has no loop
// running, and a request queued without waking one waits until something else does (rooms
// with rules, merged beside the idle rework, once queued its left replies this way and
// they never came).
func (b *inbox) queue(r request) {
	b.mu.Lock()
	b.reqs = append(b.reqs, r)
	b.mu.Unlock()
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// empty reports whether no request is waiting.
func (b *inbox) empty() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs) == 0
}

// ready is readable when requests are waiting.
func (b *inbox) ready() <-chan struct{} { return b.signal }

// take returns the waiting requests.
func (b *inbox) take() []request {
	b.mu.Lock()
	defer b.mu.Unlock()
	reqs := b.reqs
	b.reqs = nil
	return reqs
}
