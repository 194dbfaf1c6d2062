// Package bridge is a gateway's data plane: it joins the hub to the rooms' NATS subjects,
// feeding each room that has local members from the stream's live republish feed, in
// order, with no gap and no duplicate (a lost live event is read back from the stream).
// The control plane (presence, rooms, notices) is package control.
package bridge

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
)

// Feeds runs one live feed per room that has local members; the hub starts and stops them
// (it is a hub.Feeds).
type Feeds struct {
	nc     *nats.Conn
	store  stored
	log    *slog.Logger
	counts Counts

	mu    sync.Mutex // guards feeds; held for map operations only
	feeds map[string]*feed
}

// stored is what the feeds read from the stream: a *history.Store.
type stored interface {
	LastID(ctx context.Context, room string) (uint64, error)
	After(ctx context.Context, room string, since, upto uint64, max int) ([]history.Stored, bool, error)
}

// Counts hears what the feeds do, for the gateway's metrics. A nil func hears nothing.
type Counts struct {
	// Delivered hears how many events each delivery hands to the hub.
	Delivered func(n int)
	// Refilled hears how many of them were read back from the stream instead of received
	// live: the live feed lost them (core NATS is at most once: a slow consumer, a
	// reconnect), or they were stored while the feed restarted, or an idle check found the
	// feed behind its room.
	Refilled func(n int)
}

// NewFeeds makes the feed manager.
func NewFeeds(nc *nats.Conn, store *history.Store, log *slog.Logger, counts Counts) *Feeds {
	if counts.Delivered == nil {
		counts.Delivered = func(int) {}
	}
	if counts.Refilled == nil {
		counts.Refilled = func(int) {}
	}
	return &Feeds{nc: nc, store: store, log: log, counts: counts, feeds: make(map[string]*feed)}
}

// Start starts the feed of a room, which tells sink where the room stands and then hands
// it the room's events. It does not block.
func (f *Feeds) Start(room string, epoch uint64, sink hub.Sink) {
	fd := &feed{room: room, epoch: epoch, owner: f, sink: sink, pokec: make(chan struct{}, 1)}
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
	poll.Every(ctx, interval, func() { f.checkIdle(ctx, interval) })
}

// subject of the room's live feed.
func liveSubject(room string) string { return subject.Live(room) }

// TypingUser is the header naming the user of a typing notice.
const TypingUser = "Chat-User"

// Typing publishes a typing notice of user in room to every gateway with members there
// (this one included): core NATS, not stored, best effort.
func (f *Feeds) Typing(room, user string) error {
	data := protocol.Encode(protocol.Typing{Type: protocol.TypeTyping, ChatroomID: room, UserID: user})
	return f.nc.PublishMsg(&nats.Msg{Subject: subject.Typing(room), Header: nats.Header{TypingUser: {user}}, Data: data})
}
