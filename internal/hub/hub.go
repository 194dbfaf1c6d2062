// Package hub keeps a gateway's local sessions and rooms: who is in which room, each room's
// window of recent events, and each session's bounded outgoing queue. It is one goroutine
// that owns its maps and is reached only through channels; it never blocks and never does
// I/O. It knows nothing of NATS or WebSockets.
package hub

import (
	"context"
	"errors"
	"time"

	"github.com/chathub/chathub/internal/smallset"
)

// ErrClosed is returned by calls made after Run has returned.
var ErrClosed = errors.New("hub: closed")

// DefaultWindow is how many recent events a room keeps in memory when Config says none.
const DefaultWindow = 256

// DefaultCoalesce is Config.Coalesce when it is zero.
const DefaultCoalesce = 500 * time.Millisecond

// BusyStretch is how many times Config.Coalesce presence waits while Config.Busy says so.
const BusyStretch = 4

// Config of a hub. Zero values are documented per field.
type Config struct {
	// Window is how many recent events the hub keeps per room for joins; zero means
	// DefaultWindow.
	Window int
	// PendingMax bounds the live events held for a session while its join is answered;
	// over it the session is cut as too slow. Zero means 4096.
	PendingMax int
	// Feeds are the rooms' live feeds; nil starts none (for tests that deliver themselves).
	Feeds Feeds
	// Coalesce is how long presence (join, add, remove, leave, online and offline notices,
	// typing) may wait for a session to share one write: a session woken for it less than
	// Coalesce ago is woken again at most Coalesce later, with everything that came
	// meanwhile; one woken longer ago is woken at once. Anything else queued for it (a message, a reply) wakes it at
	// once and takes the waiting presence with it, in order. In a join storm every member
	// gets a presence event per join; written one by one they cost a system call each.
	// Zero means DefaultCoalesce; negative means presence never waits.
	Coalesce time.Duration
	// Busy, when set, tells whether the process is short of CPU (the gateway's writers
	// linger then, see its pressure.go). While it is, presence waits BusyStretch times
	// Coalesce (a flush already due at the longer wait when it stops being busy still comes
	// then: never later than BusyStretch times Coalesce). In connect storms of 10,000 clients
	// on two cores it wrote a quarter fewer frames, and the storm took 17.4-18.0 s against
	// 18.3-30.4 s without it (docs/benchmarks.md, Run 8). Called once per presence
	// fan-out; it must be cheap.
	Busy func() bool
}

// Feeds start and stop the live feed of a room (package bridge has the real ones). The hub
// calls Start, on its goroutine, when a room gets its first local member: the feed answers
// through sink with Reset, then Deliver. It calls Stop when the room has no local member
// left. Neither may block.
type Feeds interface {
	Start(room string, epoch uint64, sink Sink)
	Stop(room string, epoch uint64)
}

// Sink is where a room's feed hands what it reads: the hub (Reset and Deliver).
type Sink interface {
	Reset(room string, epoch, lastID uint64) error
	Deliver(room string, epoch uint64, evs []Event) error
	// Typing passes a typing notice of user (best effort: it never blocks).
	Typing(room, user string, f *Frame)
}

type noFeeds struct{}

func (noFeeds) Start(string, uint64, Sink) {}
func (noFeeds) Stop(string, uint64)        {}

// Hub is the per-gateway hub. Create it with New and run it with Run.
type Hub struct {
	cfg Config

	// reqc carries every request of the connections, in the order each sent them.
	reqc chan request
	// feedc carries what the room feeds send: resets and deliveries.
	feedc chan request
	done  chan struct{}

	// Owned by the Run goroutine.
	sessions map[*Session]struct{} // registered sessions (their rooms: Session.rooms)
	byKey    map[string]*Session   // user\x00session → connected session
	byUser   map[string]smallset.Set[*Session]
	rooms    map[string]*room
	epoch    uint64
	gen      uint64 // the last join generation handed out; never reused

	// Sessions whose presence events wait for flush (Config.Coalesce), and its timer.
	start    time.Time
	lazy     []*Session
	flushing *time.Timer
}

type request interface{ apply(h *Hub) }

// New makes a hub; nothing runs until Run.
func New(cfg Config) *Hub {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.PendingMax <= 0 {
		cfg.PendingMax = 4096
	}
	if cfg.Feeds == nil {
		cfg.Feeds = noFeeds{}
	}
	if cfg.Coalesce == 0 {
		cfg.Coalesce = DefaultCoalesce
	}
	flushing := time.NewTimer(time.Hour)
	flushing.Stop()
	return &Hub{
		// The clock starts at the longest wait, so a session never released (woken 0) is due.
		start:    time.Now().Add(-BusyStretch * max(cfg.Coalesce, 0)),
		flushing: flushing,
		cfg:      cfg,
		reqc:     make(chan request, 1024),
		feedc:    make(chan request, 1024),
		done:     make(chan struct{}),
		sessions: make(map[*Session]struct{}),
		byKey:    make(map[string]*Session),
		byUser:   make(map[string]smallset.Set[*Session]),
		rooms:    make(map[string]*room),
	}
}

// Run serves requests until ctx ends.
func (h *Hub) Run(ctx context.Context) {
	defer close(h.done)
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-h.reqc:
			r.apply(h)
		case r := <-h.feedc:
			r.apply(h)
		case <-h.flushing.C:
			h.flush()
		}
	}
}

// send hands a request to the hub goroutine.
func (h *Hub) send(c chan request, r request) error {
	select {
	case <-h.done: // first: once Run has returned, c may still have room
		return ErrClosed
	default:
	}
	select {
	case c <- r:
		return nil
	case <-h.done:
		return ErrClosed
	}
}

// ask sends a request and waits for its answer on reply (which has a buffer of one).
func ask[T any](ctx context.Context, h *Hub, r request, reply chan T) (T, error) {
	var zero T
	if err := h.send(h.reqc, r); err != nil {
		return zero, err
	}
	select {
	case v := <-reply:
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-h.done:
		return zero, ErrClosed
	}
}
