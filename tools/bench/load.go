package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A protocol is one server's wire format: chat.go, centrifugo.go and gochat.go.
type protocol interface {
	// join dials c, sets c.conn, and returns once the server has put c in its room.
	join(ctx context.Context, c *client) error
	// post appends to b the frame that publishes text as message n of c.
	post(b []byte, c *client, n uint64, text []byte) []byte
	// control handles a frame, or one line of a frame, that carries no marker.
	control(ctx context.Context, c *client, line []byte)
	// acks reports whether the server answers every post. When it does not, the
	// publisher's own copy of a message stands for the answer.
	acks() bool
}

const (
	joinTimeout = 30 * time.Second
	ackTimeout  = 5 * time.Second // a window wait longer than this gives up on what is in flight
	maxErrors   = 10              // distinct error texts kept for the summary
)

// Phases of a run, in order, as the progress line names them.
const (
	phaseConnect int32 = iota
	phaseWarmup
	phaseMeasure
	phaseDrain
	phaseIdle
)

var phaseNames = [...]string{"connect", "warmup", "measure", "drain", "idle"}

type run struct {
	cfg   config
	proto protocol
	mark  marker
	start time.Time // the zero of every timestamp

	clients []*client
	pubs    []*publisher // publisher k is clients[k]; it lives in room k % rooms
	phase   atomic.Int32 // for the progress line
	lat     histogram

	// The measurement: messages due from measureFrom until measureUntil are counted.
	// Durations since start; 0 until set.
	measureFrom, measureUntil atomic.Int64

	joined, delivered, warm, dup, ooo, misrouted, disconnects, pubsCut atomic.Uint64

	closing atomic.Bool
	readers sync.WaitGroup

	mu   sync.Mutex
	errs map[string]int // join errors and disconnect reasons, by text
}

func newRun(cfg config, proto protocol) *run {
	id := make([]byte, 6)
	for i := range id {
		id[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rand.IntN(36)]
	}
	r := &run{cfg: cfg, proto: proto, mark: newMarker(string(id)), start: time.Now(), errs: map[string]int{}}
	for i := range cfg.clients {
		room := i % cfg.rooms
		c := &client{
			room:    room,
			url:     cfg.urls[(i/cfg.rooms+room)%len(cfg.urls)], // round-robin inside each room
			user:    fmt.Sprintf("u%d-%s", i, id),
			session: fmt.Sprintf("s%d-%s", i, id),
			from:    make([]track, pubsIn(room, cfg.rooms, cfg.publishers)),
		}
		if i < cfg.publishers {
			c.pub = &publisher{c: c, idx: i, wake: make(chan struct{}, 1), reasons: map[string]int{}}
			r.pubs = append(r.pubs, c.pub)
		}
		r.clients = append(r.clients, c)
	}
	return r
}

// pubsIn is the number of publishers in room: publishers room, room+rooms, ... below pubs.
func pubsIn(room, rooms, pubs int) int { return max(0, (pubs-room+rooms-1)/rooms) }

func roomName(room int) string { return "room" + strconv.Itoa(room) }

func (r *run) now() time.Duration { return time.Since(r.start) }

// count adds n to the count of an error text, keeping at most maxErrors texts.
func (r *run) count(err string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.errs[err]; !ok && len(r.errs) >= maxErrors {
		err = "(other errors)"
	}
	r.errs[err] += n
}

// load connects, warms up, measures for the duration, and drains.
func (r *run) load(ctx context.Context, progress io.Writer) summary {
	pid := r.cfg.pid
	s := r.newSummary()
	before := readUsage(pid)
	defer r.progress(progress)()
	r.connect(ctx)
	s.ConnectS = r.now().Seconds()
	connected := readUsage(pid)
	w := r.publishAll(ctx)
	sizes := r.roomSizes()
	drainStart := r.now()
	drained := r.drain(ctx, sizes)
	drainTime := r.now() - drainStart
	end := readUsage(pid)
	r.close()

	s.LoadResult = r.loadResult(w.start, w.length, sizes)
	s.Drained, s.DrainS = drained, drainTime.Seconds()
	s.BenchCores = (w.self[1].cpu - w.self[0].cpu).Seconds() / w.length.Seconds()
	s.MachineCores = (w.busy[1] - w.busy[0]).Seconds() / w.length.Seconds()
	s.Server = newServerUsage(pid, before, connected, end, w.server[0], w.server[1], w.length)
	r.finish(&s)
	return s
}

// window is the measurement: when it started, how long it lasted, and the CPU and memory
// read at its start and end.
type window struct {
	start, length time.Duration
	server, self  [2]usage
	busy          [2]time.Duration
}

// publishAll runs the publishers through the warm-up and the measurement, and returns once
// they have stopped.
func (r *run) publishAll(ctx context.Context) window {
	stop := make(chan struct{})
	var pubs sync.WaitGroup
	startPublishing := func() {
		for _, p := range r.pubs {
			if p.c.joined {
				pubs.Go(func() { r.publish(ctx, p, stop) })
			}
		}
	}
	if r.cfg.warmup > 0 {
		r.phase.Store(phaseWarmup)
		startPublishing()
		wait(ctx, r.cfg.warmup)
	}
	w := window{start: r.now()}
	w.server[0], w.self[0], w.busy[0] = readUsage(r.cfg.pid), readUsage(0), machineBusy()
	r.measureFrom.Store(int64(w.start))
	r.phase.Store(phaseMeasure)
	if r.cfg.warmup == 0 {
		startPublishing()
	}
	wait(ctx, r.cfg.duration)
	w.length = r.now() - w.start
	r.measureUntil.Store(int64(w.start + w.length))
	r.phase.Store(phaseDrain)
	close(stop)
	w.server[1], w.self[1], w.busy[1] = readUsage(r.cfg.pid), readUsage(0), machineBusy()
	pubs.Wait()
	return w
}

// idle connects, waits for the duration, and measures what the connections cost the server.
func (r *run) idle(ctx context.Context, progress io.Writer) summary {
	pid := r.cfg.pid
	s := r.newSummary()
	before := readUsage(pid)
	defer r.progress(progress)()
	r.connect(ctx)
	s.ConnectS = r.now().Seconds()
	connected := readUsage(pid)
	start := r.now()
	r.phase.Store(phaseIdle)
	wait(ctx, r.cfg.duration)
	waited := r.now() - start
	end := readUsage(pid)
	r.close()

	s.IdleResult = &IdleResult{WaitS: waited.Seconds()}
	if n := r.joined.Load(); n > 0 && end.ok {
		s.RSSPerConnKB = (float64(end.rssKB) - float64(before.rssKB)) / float64(n)
	}
	s.Server = newServerUsage(pid, before, connected, end, connected, end, waited)
	r.finish(&s)
	return s
}

// expected is the number of deliveries the measured messages owe: every member of the
// publisher's room, the publisher included, gets every message the server did not refuse.
func (r *run) expected(roomSize []uint64) uint64 {
	var n uint64
	for _, p := range r.pubs {
		n += (p.published() - min(p.rejected.Load(), p.published())) * roomSize[p.c.room]
	}
	return n
}

// unanswered is the number of measured messages neither acked nor refused.
func (r *run) unanswered() uint64 {
	var n uint64
	for _, p := range r.pubs {
		n += p.published() - min(p.acked.Load()+p.rejected.Load(), p.published())
	}
	return n
}

// roomSizes counts the clients that joined, by room.
func (r *run) roomSizes() []uint64 {
	s := make([]uint64, r.cfg.rooms)
	for _, c := range r.clients {
		if c.joined {
			s[c.room]++
		}
	}
	return s
}

// drain waits until every expected delivery and every answer came, which it reports, or
// until the drain time ends.
func (r *run) drain(ctx context.Context, roomSize []uint64) bool {
	deadline := time.Now().Add(r.cfg.drain)
	for {
		if r.delivered.Load() >= r.expected(roomSize) && (!r.proto.acks() || r.unanswered() == 0) {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lost counts, receiver by receiver, the measured messages that were neither received nor
// refused. Call it only after every reader has stopped.
func (r *run) lost() uint64 {
	var n uint64
	for _, c := range r.clients {
		if !c.joined {
			continue
		}
		for slot, t := range c.from {
			p := r.pubs[c.room+slot*r.cfg.rooms]
			n += t.got.missing(p.first.Load(), p.last.Load(), p.refused)
		}
	}
	return n
}

// progress prints a line a second until the returned function is called.
func (r *run) progress(w io.Writer) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		prev := r.sample()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			cur := r.sample()
			fmt.Fprintln(w, r.progressLine(prev, cur))
			prev = cur
		}
	}()
	return func() { close(done); <-finished }
}

type sample struct {
	at                   time.Duration
	sent, answered, recv uint64
	lat                  []uint64
	server               usage
}

func (r *run) sample() sample {
	s := sample{at: r.now(), recv: r.delivered.Load() + r.warm.Load(), lat: r.lat.snapshot(), server: readUsage(r.cfg.pid)}
	for _, p := range r.pubs {
		s.sent += p.sent.Load()
		s.answered += min(p.answered.Load(), p.sent.Load())
	}
	return s
}

func (r *run) progressLine(prev, cur sample) string {
	secs := (cur.at - prev.at).Seconds()
	line := fmt.Sprintf("%4.0fs %-7s joined %d/%d", cur.at.Seconds(), phaseNames[r.phase.Load()], r.joined.Load(), r.cfg.clients)
	if len(r.pubs) > 0 {
		line += fmt.Sprintf("  sent %.0f/s  delivered %.0f/s  in flight %d",
			float64(cur.sent-prev.sent)/secs, float64(cur.recv-prev.recv)/secs, cur.sent-cur.answered)
	}
	if lat := diff(cur.lat, prev.lat); slices.ContainsFunc(lat, func(n uint64) bool { return n > 0 }) {
		q := quantiles(lat, 0.5, 0.99)
		line += fmt.Sprintf("  p50 %.2f p99 %.2f ms", q[0], q[1])
	}
	if r.disconnects.Load() > 0 {
		line += fmt.Sprintf("  disconnects %d", r.disconnects.Load())
	}
	if cur.server.ok && prev.server.ok {
		line += fmt.Sprintf("  server %.0f%% cpu %.0f MB", 100*(cur.server.cpu-prev.server.cpu).Seconds()/secs, cur.server.rssMB())
	}
	return line
}

// finish adds what every mode reports: joins, disconnects and errors.
func (r *run) finish(s *summary) {
	s.Connected = r.joined.Load()
	s.ConnectErrors = uint64(r.cfg.clients) - s.Connected
	s.Disconnects = r.disconnects.Load()
	if s.LoadResult != nil {
		s.PublishersCut = r.pubsCut.Load()
	}
	for _, p := range r.pubs {
		for reason, n := range p.reasons {
			r.count("refused: "+reason, n)
		}
		if p.err != nil {
			r.count("publish: "+p.err.Error(), 1)
		}
		if p.timeouts > 0 {
			r.count("window wait timed out", p.timeouts)
		}
	}
	if len(r.errs) > 0 {
		s.Errors = r.errs
	}
}

func (r *run) loadResult(start, measured time.Duration, sizes []uint64) *LoadResult {
	lr := &LoadResult{
		Publishers: r.cfg.publishers, RateAsked: r.cfg.rate, Size: r.cfg.size,
		WarmupS: r.cfg.warmup.Seconds(), DurationS: measured.Seconds(),
		Expected: r.expected(sizes), Delivered: r.delivered.Load(), Lost: r.lost(),
		Dup: r.dup.Load(), OutOfOrder: r.ooo.Load(), Misrouted: r.misrouted.Load(),
		Unanswered: r.unanswered(),
	}
	if r.cfg.rate == 0 {
		lr.Window = r.cfg.window
	}
	for _, p := range r.pubs {
		lr.Published += p.published()
		lr.Acked += p.acked.Load()
		lr.Rejected += p.rejected.Load()
	}
	lr.PublishedPerS = float64(lr.Published) / measured.Seconds()
	var last time.Duration
	for _, c := range r.clients {
		last = max(last, c.last)
	}
	if last > start {
		lr.DeliveredPerS = float64(lr.Delivered) / (last - start).Seconds()
	}
	top := float64(r.lat.max.Load()) / 1000
	q := quantiles(r.lat.snapshot(), 0.5, 0.9, 0.99, 0.999)
	for i := range q {
		q[i] = min(q[i], top) // a bucket's top may lie above the largest value in it
	}
	lr.Latency = latency{P50: q[0], P90: q[1], P99: q[2], P999: q[3], Max: top}
	return lr
}

func (r *run) newSummary() summary {
	return summary{Target: r.cfg.target, Mode: r.cfg.mode, URLs: r.cfg.urls, Clients: r.cfg.clients, Rooms: r.cfg.rooms}
}

// wait sleeps for d, or until ctx ends.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
