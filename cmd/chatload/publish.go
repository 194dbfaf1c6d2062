package main

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/poll"
	"github.com/coder/websocket"
)

// publisher sends the messages of one publishing client, round-robin over the
// client's rooms, each room with its own sequence 1, 2, 3, ... It survives
// reconnects: what was sent but not acked is sent again, with the same ref,
// on the next connection (the gateway stores a repeated ref once).
type publisher struct {
	r        *runner
	c        *client
	id       int
	interval time.Duration   // between two messages; zero means no pacing
	acked    []atomic.Uint64 // highest acked seq, per position in c.rooms
	kick     chan struct{}   // an ack or error arrived; buffer of one

	mu      sync.Mutex
	pending []outMsg        // sent and not acked yet, oldest first
	retry   []outMsg        // refused with a retryable error, to send again
	retried map[msgKey]bool // ever refused and sent again: may land after later ones

	// Owned by the goroutine running serve (one at a time).
	seq      []uint64 // last seq per position in c.rooms
	turn     int
	count    int
	next     time.Time
	finished bool
}

type msgKey struct {
	pos int
	seq uint64
}

type outMsg struct {
	pos   int
	seq   uint64
	frame []byte
}

func newPublisher(r *runner, c *client, id int) *publisher {
	p := &publisher{r: r, c: c, id: id, kick: make(chan struct{}, 1)}
	p.acked = make([]atomic.Uint64, len(c.rooms))
	p.seq = make([]uint64, len(c.rooms))
	if r.cfg.Rate > 0 {
		p.interval = time.Duration(float64(r.cfg.Publishers) / r.cfg.Rate * float64(time.Second))
	}
	return p
}

// serve publishes on conn until ctx (the connection's) ends.
func (p *publisher) serve(ctx context.Context, conn *websocket.Conn) {
	select {
	case <-p.r.startc:
	case <-ctx.Done():
		return
	}
	p.mu.Lock()
	again := slices.Clone(p.pending) // retries are pending too
	p.retry = nil
	p.mu.Unlock()
	if !p.resend(ctx, conn, again) {
		return
	}
	for {
		p.mu.Lock()
		again, p.retry = p.retry, nil
		room := len(p.pending) < p.r.cfg.Window
		p.mu.Unlock()
		if len(again) > 0 {
			// Refused (rate_limited, unavailable): give the gateway a moment.
			if !poll.Sleep(ctx, 20*time.Millisecond) || !p.resend(ctx, conn, again) {
				return
			}
			continue
		}
		if room && !p.finished && p.producing() {
			if !p.pace(ctx) || !p.sendNext(ctx, conn) {
				return
			}
			continue
		}
		select {
		case <-p.kick:
		case <-p.r.prodDone:
		case <-ctx.Done():
			return
		}
	}
}

func (p *publisher) producing() bool {
	select {
	case <-p.r.prodDone:
		return false
	default:
		return true
	}
}

// pace waits for the next slot of the publisher's schedule. A publisher that
// fell more than a second behind does not burst to catch up.
func (p *publisher) pace(ctx context.Context) bool {
	if p.interval == 0 {
		return true
	}
	now := time.Now()
	if p.next.IsZero() || now.Sub(p.next) > time.Second {
		p.next = now
	}
	wait := p.next.Sub(now)
	p.next = p.next.Add(p.interval)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.r.prodDone:
		return false
	case <-ctx.Done():
		return false
	}
}

func (p *publisher) sendNext(ctx context.Context, conn *websocket.Conn) bool {
	pos := p.turn % len(p.c.rooms)
	p.turn++
	p.seq[pos]++
	m := outMsg{pos: pos, seq: p.seq[pos]}
	m.frame = p.frame(m, time.Now())
	p.mu.Lock()
	p.pending = append(p.pending, m)
	p.mu.Unlock()
	p.r.tot.sent.Add(1)
	if p.count++; p.r.cfg.Messages > 0 && p.count >= p.r.cfg.Messages {
		p.finished = true
		p.r.pubsLeft.Done()
	}
	return writeFrame(ctx, conn, m.frame) == nil
}

func (p *publisher) resend(ctx context.Context, conn *websocket.Conn, msgs []outMsg) bool {
	for _, m := range msgs {
		p.r.tot.resent.Add(1)
		if writeFrame(ctx, conn, m.frame) != nil {
			return false
		}
	}
	return true
}

// frame is the message command for m; its ref "m<pos>-<seq>" names it.
func (p *publisher) frame(m outMsg, now time.Time) []byte {
	cfg := p.r.cfg
	b := make([]byte, 0, cfg.Size+96)
	b = append(b, `{"type":"message","chatroomId":"`...)
	b = append(b, p.c.rooms[m.pos].name...)
	b = append(b, `","ref":"`...)
	b = appendRef(b, m.pos, m.seq)
	b = append(b, `","message":"`...)
	b = appendBody(b, cfg.RunID, body{pub: p.id, seq: m.seq, sent: now}, cfg.Size)
	return append(b, `"}`...)
}

func appendRef(b []byte, pos int, seq uint64) []byte {
	b = append(b, 'm')
	b = strconv.AppendInt(b, int64(pos), 10)
	b = append(b, '-')
	return strconv.AppendUint(b, seq, 10)
}

func parseRef(ref []byte) (pos int, seq uint64, ok bool) {
	if len(ref) < 4 || ref[0] != 'm' {
		return 0, 0, false
	}
	for i := 1; i < len(ref); i++ {
		if ref[i] == '-' {
			p, _, ok1 := nextUint(ref[1:i])
			s, _, ok2 := nextUint(ref[i+1:])
			return int(p), s, ok1 && ok2
		}
	}
	return 0, 0, false
}

// take removes the pending message named by ref.
func (p *publisher) take(ref []byte) (outMsg, bool) {
	pos, seq, ok := parseRef(ref)
	if !ok {
		return outMsg{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, m := range p.pending {
		if m.pos == pos && m.seq == seq {
			p.pending = append(p.pending[:i], p.pending[i+1:]...)
			return m, true
		}
	}
	return outMsg{}, false
}

// onAck is called by the client's reader. A second ack of a message sent
// again after a reconnect finds nothing pending and is not counted.
func (p *publisher) onAck(ref []byte) {
	m, ok := p.take(ref)
	if !ok {
		return
	}
	p.r.tot.acked.Add(1)
	a := &p.acked[m.pos]
	for cur := a.Load(); m.seq > cur && !a.CompareAndSwap(cur, m.seq); cur = a.Load() {
	}
	p.notify()
}

// onError handles an error reply to a message; false if ref is not one.
func (p *publisher) onError(ref, code []byte) bool {
	m, ok := p.take(ref)
	if !ok {
		return false
	}
	p.r.tot.sendErrors.Add(1)
	switch {
	case retryable(code):
		p.mu.Lock()
		if p.retried == nil {
			p.retried = map[msgKey]bool{}
		}
		p.retried[msgKey{m.pos, m.seq}] = true
		p.pending = append(p.pending, m)
		p.retry = append(p.retry, m)
		p.mu.Unlock()
	default:
		p.r.tot.rejected.Add(1)
		p.r.noteError("message refused", errorString(string(code)))
	}
	p.notify()
	return true
}

// wasRetried says whether seq of room (an index) was refused and sent again,
// so that arriving after later numbers is the publisher's doing: with a window
// above one, the later ones were stored while it waited.
func (p *publisher) wasRetried(room int, seq uint64) bool {
	for pos, rs := range p.c.rooms {
		if rs.idx == room {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.retried[msgKey{pos, seq}]
		}
	}
	return false
}

func (p *publisher) notify() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *publisher) unacked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

type errorString string

func (e errorString) Error() string { return string(e) }
