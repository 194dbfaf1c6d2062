package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/poll"
	"github.com/coder/websocket"
)

// testHookPublishing, when set by a test, is called as publishing starts.
var testHookPublishing func(*runner)

// runner holds one run's clients and shared counters.
type runner struct {
	cfg     Config
	tot     totals
	clients []*client
	pubs    []*publisher
	members []int // clients per room

	ready    sync.WaitGroup // one per client: first joined all rooms, or gave up
	pubsLeft sync.WaitGroup // one per publisher: sent Config.Messages
	startc   chan struct{}  // closed by run when publishing starts
	prodDone chan struct{}  // closed by run when publishing ends

	errs errorLog

	drops  counts // connections lost, by close code ("none": cut without a close frame)
	errors counts // error replies, by code
}

func (r *runner) noteDrop(code websocket.StatusCode) {
	key := "none"
	if code >= 0 {
		key = strconv.Itoa(int(code))
	}
	r.drops.add(key)
}

// counts is a small tally by name, safe for concurrent use.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) add(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[key]++
}

func (c *counts) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}

func newRunner(cfg Config, stderr io.Writer) *runner {
	r := &runner{cfg: cfg, startc: make(chan struct{}), prodDone: make(chan struct{})}
	r.errs.w = stderr
	r.members = make([]int, cfg.Rooms)
	for i := range cfg.Clients {
		c := newClient(r, i)
		for _, ri := range cfg.clientRooms(i) {
			r.members[ri]++
		}
		if i < cfg.Publishers {
			c.pub = newPublisher(r, c, i)
			r.pubs = append(r.pubs, c.pub)
		}
		r.clients = append(r.clients, c)
	}
	r.ready.Add(len(r.clients))
	if cfg.Messages > 0 {
		r.pubsLeft.Add(len(r.pubs))
	}
	return r
}

// run is chatload: connect, publish (or hold), drain, report. It returns an
// error when the run found a fault (loss, duplicates, reordering, failed
// connections, growth in soak mode) or could not run at all.
func run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	stderr = &syncWriter{w: stderr}
	r := newRunner(cfg, stderr)
	sum := &summary{Config: summaryConfig(cfg), Clients: cfg.Clients}
	sampler := newSampler(cfg)
	sum.MetricsBefore = sampler.sampleAll(ctx)

	clientCtx, stopClients := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range r.clients {
		wg.Go(func() { c.run(clientCtx) })
	}
	start := time.Now()
	sum.ConnectFailed = r.waitReady(ctx, cfg.ConnectTimeout)
	sum.ConnectSeconds = time.Since(start).Seconds()
	fmt.Fprintf(stderr, "chatload: %d of %d clients connected and joined in %.2fs (run %s)\n",
		r.tot.connected.Load(), cfg.Clients, sum.ConnectSeconds, cfg.RunID)

	stopProgress := r.progress(stderr)
	stopSampler := sampler.start(ctx, cfg.Soak)
	if sum.ConnectFailed == 0 && ctx.Err() == nil {
		r.load(ctx, sum, sampler)
	}
	sum.ConnectedAtEnd = int(r.tot.connected.Load())
	stopProgress()
	sum.Samples = stopSampler()
	stopClients()
	wg.Wait()
	r.summarize(sum, sampler)
	if err := sum.write(stdout, cfg.JSON); err != nil {
		return err
	}
	return errors.Join(ctx.Err(), sum.verdict())
}

// waitReady waits until every client joined its rooms once, and returns how
// many had not when timeout passed.
func (r *runner) waitReady(ctx context.Context, timeout time.Duration) int {
	done := make(chan struct{})
	go func() { r.ready.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	return r.cfg.Clients - int(r.tot.connected.Load())
}

// load publishes for the configured duration and drains, or in idle mode
// holds the connections for the duration.
func (r *runner) load(ctx context.Context, sum *summary, sampler *sampler) {
	start := time.Now()
	if r.cfg.Idle {
		sum.MetricsConnected = sampler.sampleAll(ctx)
		poll.Sleep(ctx, r.cfg.Duration)
		sum.MetricsAfter = sampler.sampleAll(ctx)
		sum.PublishSeconds = time.Since(start).Seconds()
		return
	}
	close(r.startc)
	if testHookPublishing != nil {
		testHookPublishing(r)
	}
	var pubsDone chan struct{} // stays nil (never ready) without a message count
	if r.cfg.Messages > 0 {
		pubsDone = make(chan struct{})
		go func() { r.pubsLeft.Wait(); close(pubsDone) }()
	}
	t := time.NewTimer(r.cfg.Duration)
	select {
	case <-t.C:
	case <-pubsDone:
	case <-ctx.Done():
	}
	t.Stop()
	close(r.prodDone)
	sum.PublishSeconds = time.Since(start).Seconds()
	drainStart := time.Now()
	r.drain(ctx)
	sum.DrainSeconds = time.Since(drainStart).Seconds()
	sum.MetricsAfter = sampler.sampleAll(ctx)
}

// drain waits until every sent message is acked and delivered to every member
// of its room, or until Config.Drain passes.
func (r *runner) drain(ctx context.Context) {
	deadline := time.NewTimer(r.cfg.Drain)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !r.complete() {
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// complete reports whether nothing is unacked and every member of every room
// has received every acked message.
func (r *runner) complete() bool {
	var want, got uint64
	for _, p := range r.pubs {
		if p.unacked() > 0 {
			return false
		}
		for pos, rs := range p.c.rooms {
			want += p.acked[pos].Load() * uint64(r.members[rs.idx])
		}
	}
	for _, c := range r.clients {
		got += c.stats.distinct.Load()
	}
	return got >= want
}

// lost counts, after the clients stopped, the acked messages that members of
// their rooms never received.
func (r *runner) lost() uint64 {
	var lost uint64
	for _, c := range r.clients {
		for _, rs := range c.rooms {
			for _, p := range r.pubs {
				for pos, prs := range p.c.rooms {
					if prs.idx != rs.idx {
						continue
					}
					n := p.acked[pos].Load()
					if t := rs.tracks[p.id]; t != nil {
						lost += t.missing(n)
					} else {
						lost += n
					}
				}
			}
		}
	}
	return lost
}

// syncWriter serializes the writes of the goroutines that report on stderr.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// errorLog prints the first few errors and counts the rest.
type errorLog struct {
	mu      sync.Mutex
	w       io.Writer
	printed int
	dropped int
}

const maxPrintedErrors = 20

func (r *runner) noteError(what string, err error) {
	l := &r.errs
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.printed >= maxPrintedErrors {
		l.dropped++
		return
	}
	l.printed++
	fmt.Fprintf(l.w, "chatload: %s: %v\n", what, err)
}
