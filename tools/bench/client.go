package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

type client struct {
	room    int
	url     string
	user    string
	session string
	conn    *websocket.Conn // set by join
	joined  bool            // set before the reader starts

	pub *publisher // nil for clients that only receive

	// Owned by the reader goroutine.
	from []track       // one per publisher of the room: publisher k is from[k/rooms]
	last time.Duration // when the last measured message arrived
}

// track is what one receiver got from one publisher.
type track struct {
	got bitset
	max uint64 // highest message number seen
}

type publisher struct {
	c   *client
	idx int

	sent     atomic.Uint64 // number of the last message handed to the socket
	first    atomic.Uint64 // number of the first measured message; 0 during warm-up
	last     atomic.Uint64 // number of the last measured message written
	answered atomic.Uint64 // highest number answered by an ack, an error or its own copy
	acked    atomic.Uint64 // measured messages acknowledged
	rejected atomic.Uint64 // measured messages refused
	wake     chan struct{} // reader → publish loop: an answer came

	// Owned by c's reader goroutine.
	refused bitset
	reasons map[string]int

	// Owned by the publish loop.
	timeouts int
	err      error
}

// published is the number of measured messages written.
func (p *publisher) published() uint64 {
	f, l := p.first.Load(), p.last.Load()
	if f == 0 || l < f {
		return 0
	}
	return l - f + 1
}

// raise notes that every message up to n has been answered, or given up on.
func (p *publisher) raise(n uint64) {
	for a := p.answered.Load(); n > a && !p.answered.CompareAndSwap(a, n); a = p.answered.Load() {
	}
}

// answer records the server's answer to message n: refusal is "" for an ack, else why.
func (p *publisher) answer(n uint64, refusal string) {
	p.raise(n)
	if f := p.first.Load(); f != 0 && n >= f {
		if refusal == "" {
			p.acked.Add(1)
		} else if !p.refused.set(n) {
			p.rejected.Add(1)
			p.reasons[refusal]++
		}
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// waitWindow waits until fewer than window messages are unanswered.
func (p *publisher) waitWindow(window uint64, stop <-chan struct{}, timer *time.Timer) bool {
	for {
		sent, answered := p.sent.Load(), p.answered.Load()
		if sent < answered+window {
			return true
		}
		timer.Reset(ackTimeout)
		select {
		case <-p.wake:
			timer.Stop()
		case <-stop:
			return false
		case <-timer.C:
			p.timeouts++
			p.raise(sent) // give up on what is in flight
		}
	}
}

// connect joins every client, dialers at a time, and starts a reader for each that joined.
func (r *run) connect(ctx context.Context) {
	sem := make(chan struct{}, r.cfg.dialers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, c := range r.clients {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			jctx, cancel := context.WithTimeout(ctx, joinTimeout)
			defer cancel()
			if err := r.proto.join(jctx, c); err != nil {
				if c.conn != nil {
					c.conn.CloseNow()
				}
				r.count("join: "+err.Error(), 1)
				return
			}
			c.joined = true
			r.joined.Add(1)
			// Readers end when close ends their connections. A context that is never
			// cancelled spares coder/websocket registering a callback on every read.
			r.readers.Go(func() { r.read(context.WithoutCancel(ctx), c) })
		})
	}
}

// read handles every frame of c until its connection ends.
func (r *run) read(ctx context.Context, c *client) {
	var buf bytes.Buffer
	for {
		_, rd, err := c.conn.Reader(ctx)
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(rd)
		}
		if err != nil {
			if !r.closing.Load() {
				r.disconnects.Add(1)
				if c.pub != nil {
					r.pubsCut.Add(1)
				}
				r.count("disconnect: "+closeReason(err), 1)
			}
			return
		}
		now := r.now()
		for frame := buf.Bytes(); len(frame) > 0; {
			var line []byte
			line, frame, _ = bytes.Cut(frame, []byte{'\n'})
			if m, ok := r.mark.find(line); ok {
				r.deliver(c, m, now)
			} else if len(line) > 0 {
				r.proto.control(ctx, c, line)
			}
		}
	}
}

func closeReason(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		return "close " + strconv.Itoa(int(code))
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "EOF"
	}
	return err.Error()
}

// deliver records that c received message m at now.
func (r *run) deliver(c *client, m mark, now time.Duration) {
	own := c.pub != nil && m.pub == c.pub.idx && !r.proto.acks()
	if !m.measured {
		r.warm.Add(1)
		if own {
			c.pub.answer(m.n, "")
		}
		return
	}
	if m.pub < 0 || m.pub >= r.cfg.publishers || m.pub%r.cfg.rooms != c.room {
		r.misrouted.Add(1)
		return
	}
	t := &c.from[m.pub/r.cfg.rooms]
	if t.got.set(m.n) {
		r.dup.Add(1)
		return
	}
	if m.n < t.max {
		r.ooo.Add(1)
	} else {
		t.max = m.n
	}
	r.delivered.Add(1)
	r.lat.record(now - m.sent)
	c.last = now
	if own {
		c.pub.answer(m.n, "")
	}
}

// publish sends p's messages until stop closes: paced at rate/publishers a second, or, when
// the rate is 0, as fast as answers come back with at most window messages unanswered.
func (r *run) publish(ctx context.Context, p *publisher, stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var interval, next time.Duration
	if r.cfg.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(r.cfg.publishers) / r.cfg.rate)
		// Spread the publishers' first messages over one interval.
		next = r.now() + interval*time.Duration(p.idx)/time.Duration(r.cfg.publishers)
	}
	var text, frame []byte
	for {
		var due time.Duration // the message's slot in the schedule, or now when window-paced
		if interval > 0 {
			if !r.sleepUntil(next, stop, timer) {
				return
			}
			due, next = next, next+interval // when late, catch up by sending at once
		} else if p.waitWindow(uint64(r.cfg.window), stop, timer) {
			due = r.now()
		} else {
			return
		}
		select {
		case <-stop:
			return
		default:
		}
		measured, past := r.inWindow(due)
		if past {
			return
		}
		n := p.sent.Load() + 1
		m := mark{measured: measured, pub: p.idx, n: n, sent: r.now()}
		if m.measured && p.first.Load() == 0 {
			p.first.Store(n)
		}
		text = r.mark.text(text[:0], m, r.cfg.size)
		frame = r.proto.post(frame[:0], p.c, n, text)
		p.sent.Store(n)
		if err := p.c.conn.Write(ctx, websocket.MessageText, frame); err != nil {
			p.err = err
			return
		}
		if m.measured {
			p.last.Store(n)
		}
	}
}

// inWindow tells whether a message due at t is measured, and whether t is past the
// measurement. A message due in warm-up but sent late, in the measurement, is not measured.
func (r *run) inWindow(t time.Duration) (measured, past bool) {
	if until := time.Duration(r.measureUntil.Load()); until != 0 && t >= until {
		return false, true
	}
	from := time.Duration(r.measureFrom.Load())
	return from != 0 && t >= from, false
}

func (r *run) sleepUntil(t time.Duration, stop <-chan struct{}, timer *time.Timer) bool {
	if d := t - r.now(); d > 0 {
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-stop:
			return false
		}
	}
	return true
}

// close ends every connection and waits for the readers.
func (r *run) close() {
	r.closing.Store(true)
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, c := range r.clients {
		if !c.joined {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.conn.Close(websocket.StatusNormalClosure, "")
		})
	}
	wg.Wait()
	r.readers.Wait()
}

// dial opens a WebSocket to base, whose path defaults to path, with query q.
func dial(ctx context.Context, base, path string, q url.Values) (*websocket.Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = path
	}
	u.RawQuery = q.Encode()
	conn, _, err := websocket.Dial(ctx, u.String(), nil)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL names the user, which would make every error different
		}
		return nil, fmt.Errorf("dial %s: %w", base, err)
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}
