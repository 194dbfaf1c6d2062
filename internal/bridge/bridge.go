package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config of a bridge. Zero values are documented per field.
type Config struct {
	// GatewayID names this gateway in presence records; required.
	GatewayID string
	// Grace is how long a dropped session still counts as present; zero means 10s.
	Grace time.Duration
	// Replicas of the key-value buckets; zero means 1.
	Replicas int
	// Heartbeat is how often the gateway says it lives; zero means 2s. A gateway silent
	// for three heartbeats is dead, and its sessions are cleaned up by the others.
	Heartbeat time.Duration
	// OnPrivate is called, on its own goroutine, when any gateway opens a private room:
	// the local sessions of peer should join it.
	OnPrivate func(room, user, peer string)
}

// Bridge joins one gateway's hub to NATS.
type Bridge struct {
	cfg      Config
	nc       *nats.Conn
	js       jetstream.JetStream
	store    *history.Store
	log      *slog.Logger
	presence jetstream.KeyValue
	rooms    jetstream.KeyValue
	gateways jetstream.KeyValue
	state    *State
	hub      *hub.Hub
	notices  coalescer // online/offline notices on their way to every session

	// Presence and Feeds are the bridge's two halves, used by the gateway directly.
	Presence *Presence
	Feeds    *Feeds
}

// Open creates or updates the buckets and announces the gateway. Nothing is watched or
// served until Run.
func Open(ctx context.Context, nc *nats.Conn, store *history.Store, cfg Config, log *slog.Logger) (*Bridge, error) {
	if cfg.GatewayID == "" {
		return nil, fmt.Errorf("bridge: a gateway id is required")
	}
	cfg.Grace = or(cfg.Grace, 10*time.Second)
	cfg.Heartbeat = or(cfg.Heartbeat, 2*time.Second)
	cfg.Replicas = max(cfg.Replicas, 1)
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	b := &Bridge{cfg: cfg, nc: nc, js: js, store: store, log: log, state: newState()}
	if err := b.buckets(ctx); err != nil {
		return nil, err
	}
	wrote := func(key string, val []byte, rev uint64) { b.state.apply(b.state.applyPresence, key, val, rev, false) }
	b.Presence = &Presence{nc: nc, bucket: bucket{kv: b.presence, wrote: wrote}, store: store, gateway: cfg.GatewayID,
		grace: cfg.Grace, log: log, now: time.Now}
	b.Feeds = NewFeeds(nc, store, log)
	return b, b.beat(ctx)
}

func (b *Bridge) buckets(ctx context.Context) error {
	var err error
	mk := func(name, desc string, ttl time.Duration) jetstream.KeyValue {
		if err != nil {
			return nil
		}
		var kv jetstream.KeyValue
		kv, err = b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: desc, History: 1, TTL: ttl,
			Storage: jetstream.FileStorage, Replicas: b.cfg.Replicas,
		})
		if err != nil {
			err = fmt.Errorf("bridge: bucket %s: %w", name, err)
		}
		return kv
	}
	b.presence = mk(subject.PresenceBucket, "chat sessions, room members and online users", 0)
	b.rooms = mk(subject.RoomsBucket, "chat rooms, public and private", 0)
	b.gateways = mk(subject.GatewaysBucket, "live chat gateways (heartbeats)", 3*b.cfg.Heartbeat)
	return err
}

// SetHub sets the hub that feeds and notices deliver to; call it before Run.
func (b *Bridge) SetHub(h *hub.Hub) {
	b.hub = h
	b.Feeds.SetHub(h)
}

// State is the local copy of presence and rooms.
func (b *Bridge) State() *State { return b.state }

// Run watches the buckets, listens for notices, beats and sweeps until ctx ends. ready is
// closed once the local copy holds the buckets' current contents.
func (b *Bridge) Run(ctx context.Context, ready chan<- struct{}) error {
	subs, err := b.listen()
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range subs {
			s.Unsubscribe()
		}
	}()
	synced1, synced2 := make(chan struct{}), make(chan struct{})
	go b.keepWatching(ctx, b.presence, b.state.applyPresence, synced1)
	go b.keepWatching(ctx, b.rooms, b.state.applyRoom, synced2)
	go b.Feeds.RunChecks(ctx, 3*time.Second)
	go b.notices.run(ctx, noticeEvery, b.broadcast)
	go func() {
		<-synced1
		<-synced2
		b.orphans(ctx)
		close(ready)
	}()
	b.loop(ctx)
	return nil
}

// orphans starts the grace period of sessions recorded on this gateway's id before it
// started: a gateway restarted under the same id holds none of them any more.
func (b *Bridge) orphans(ctx context.Context) {
	for _, rec := range b.state.sessionList() {
		if rec.GatewayID != b.cfg.GatewayID || rec.GraceUntil != 0 {
			continue
		}
		err := b.Presence.startGrace(ctx, rec.UserID, rec.SessionID, rec.Conn)
		if ignoreSkip(err) != nil {
			b.log.Warn("a session of this gateway's previous run was not released", "user", rec.UserID, "err", err)
		}
	}
}

// broadcast queues f for every local session.
func (b *Bridge) broadcast(f *hub.Frame) { b.hub.Broadcast(f) }

// keepWatching watches a bucket, starting over when the watch ends with an error.
func (b *Bridge) keepWatching(ctx context.Context, kv jetstream.KeyValue, apply func(string, []byte), synced chan struct{}) {
	for ctx.Err() == nil {
		if err := b.state.watch(ctx, kv, apply, synced); err != nil {
			b.log.Warn("bucket watch failed, retrying", "bucket", kv.Bucket(), "err", err)
		}
		synced = nil
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// loop beats and sweeps.
func (b *Bridge) loop(ctx context.Context) {
	beat := time.NewTicker(b.cfg.Heartbeat)
	defer beat.Stop()
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	sw := newSweeper(b)
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if err := b.beat(ctx); err != nil {
				b.log.Warn("heartbeat failed", "err", err)
			}
		case <-sweep.C:
			sw.sweep(ctx)
		}
	}
}

// beat says this gateway lives.
func (b *Bridge) beat(ctx context.Context) error {
	data, _ := json.Marshal(gatewayRecord{GatewayID: b.cfg.GatewayID, Beat: time.Now().Unix()})
	_, err := b.gateways.Put(ctx, b.cfg.GatewayID, data)
	return err
}

// Leave removes this gateway's heartbeat (at shutdown), so others need not wait for it
// to expire.
func (b *Bridge) Leave(ctx context.Context) error {
	return b.gateways.Delete(ctx, b.cfg.GatewayID)
}

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
