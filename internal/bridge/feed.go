// Package bridge joins a gateway's hub to NATS: it feeds each room with local members from
// the stream's live republish feed (in order, with no gap and no duplicate), keeps the
// cross-gateway facts (presence, rooms, private rooms) in JetStream key-value buckets, and
// carries the notices every gateway must hear (online/offline, private rooms, take-overs).
package bridge

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
)

// Feeds runs one live feed per room that has local members. Its Start and Stop are the
// hub's RoomStart and RoomStop callbacks.
type Feeds struct {
	nc    *nats.Conn
	store *history.Store
	hub   *hub.Hub
	log   *slog.Logger

	// OnDeliver, if set before the first room starts, counts events handed to the hub.
	OnDeliver func(n int)

	mu    sync.Mutex // guards feeds; held for map operations only
	feeds map[string]*feed
}

// NewFeeds makes the feed manager; the hub must be set with SetHub before a room starts.
func NewFeeds(nc *nats.Conn, store *history.Store, log *slog.Logger) *Feeds {
	return &Feeds{nc: nc, store: store, log: log, feeds: make(map[string]*feed)}
}

// SetHub sets the hub the feeds deliver to (the hub is made with the feeds' callbacks, so
// one of them must come second).
func (f *Feeds) SetHub(h *hub.Hub) { f.hub = h }

// Start starts the feed of a room. It does not block.
func (f *Feeds) Start(room string, epoch uint64) {
	fd := &feed{room: room, epoch: epoch, owner: f, pokec: make(chan struct{}, 1)}
	fd.active.Store(time.Now().UnixNano())
	var ctx context.Context
	ctx, fd.cancel = context.WithCancel(context.Background())
	f.mu.Lock()
	old := f.feeds[room]
	f.feeds[room] = fd
	f.mu.Unlock()
	if old != nil {
		old.stop()
	}
	go fd.run(ctx)
}

// Stop stops the feed of a room, if it is still the one of that epoch. It does not block.
func (f *Feeds) Stop(room string, epoch uint64) {
	f.mu.Lock()
	fd := f.feeds[room]
	if fd == nil || fd.epoch != epoch {
		fd = nil
	} else {
		delete(f.feeds, room)
	}
	f.mu.Unlock()
	if fd != nil {
		go fd.stop()
	}
}

// StopAll stops every feed (at shutdown).
func (f *Feeds) StopAll() {
	f.mu.Lock()
	all := f.feeds
	f.feeds = make(map[string]*feed)
	f.mu.Unlock()
	for _, fd := range all {
		fd.stop()
	}
}

// Count is the number of running feeds.
func (f *Feeds) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.feeds)
}

// checkIdle asks every feed that has delivered nothing lately whether its room moved on
// without it (a live message lost on the way is otherwise only noticed at the next one).
func (f *Feeds) checkIdle(ctx context.Context, idle time.Duration) {
	f.mu.Lock()
	var check []*feed
	for _, fd := range f.feeds {
		if fd.idleFor() > idle {
			check = append(check, fd)
		}
	}
	f.mu.Unlock()
	for _, fd := range check {
		fd.poke()
	}
}

// RunChecks runs checkIdle every interval until ctx ends.
func (f *Feeds) RunChecks(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.checkIdle(ctx, interval)
		}
	}
}

// subject of the room's live feed.
func liveSubject(room string) string { return subject.Live(room) }
