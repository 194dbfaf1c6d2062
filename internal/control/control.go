// Package control is a gateway's control plane: the facts every gateway must agree on —
// which sessions are connected, who is in which room, which rooms exist, which gateways
// live — kept in JetStream key-value buckets and decided by compare-and-set, and the
// notices every gateway must hear (online/offline, private rooms, take-overs).
//
// It knows nothing of the hub or of WebSockets: what it must do to this gateway's own
// sessions goes through Local, given at Open.
package control

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/subject"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// Local is what the control plane asks of this gateway's own sessions. Its methods are
// called from NATS callbacks and must not block.
type Local interface {
	// Notice passes online/offline notices (one or more JSON objects, newline-separated)
	// to every local session.
	Notice(data []byte)
	// Kick closes, with code and reason, the local connection conn of a session, if it is
	// still here: 4001 for a take-over, 1001 for a session the cluster took for gone.
	Kick(user, session, conn string, code int, reason string)
	// PrivateOpened says user opened the private room with peer: the local sessions of
	// peer should join it.
	PrivateOpened(room, user, peer string)
	// CloseSessions closes, with code and reason, the local connections of user (of its
	// session only, when session is not empty).
	CloseSessions(user, session string, code int, reason string)
	// Banned says user was banned from room ("": from the whole chat): the local sessions
	// of user leave the room (with left, reason banned), or are closed with 4503.
	Banned(room, user string)
	// RoomDeleted says room is being deleted: its local sessions leave it (with left,
	// reason deleted). The channel is closed once they have.
	RoomDeleted(room string) <-chan struct{}
}

// Config of a control plane. Zero values are documented per field.
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
	// Now is the clock; nil means time.Now. Tests set it to control grace periods.
	Now func() time.Time
	// RoomExpiry removes public rooms nobody is in and nothing was stored in for this
	// long; zero keeps every room.
	RoomExpiry time.Duration
}

// Plane is one gateway's part of the control plane. Make it with Open, then Run it.
type Plane struct {
	*presence // Connect, Disconnect, JoinRoom, LeaveRoom

	cfg      Config
	run      string // this run of the gateway: a restart under the same id is another run
	js       jetstream.JetStream
	local    Local
	rooms    jetstream.KeyValue
	bans     jetstream.KeyValue
	gateways jetstream.KeyValue
	state    *State
	notices  coalescer // online/offline notices on their way to every session
	// sweepEvery is how often Run sweeps (a second); tests stretch it and sweep by hand.
	sweepEvery time.Duration
	// beatFailed is when this gateway last failed to beat (unix nanos; 0: never).
	beatFailed atomic.Int64
}

// Open creates or updates the buckets and says this run of the gateway lives. Nothing is
// watched or served until Run.
func Open(ctx context.Context, nc *nats.Conn, store *history.Store, cfg Config, local Local, log *slog.Logger) (*Plane, error) {
	if cfg.GatewayID == "" {
		return nil, fmt.Errorf("control: a gateway id is required")
	}
	cfg.Grace = or(cfg.Grace, 10*time.Second)
	cfg.Heartbeat = or(cfg.Heartbeat, 2*time.Second)
	cfg.Replicas = max(cfg.Replicas, 1)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	p := &Plane{cfg: cfg, run: uuid.NewString(), js: js, local: local, state: newState(), sweepEvery: time.Second}
	kv, err := p.buckets(ctx)
	if err != nil {
		return nil, err
	}
	wrote := func(key string, val []byte, rev uint64) { p.state.apply(p.state.applyPresence, key, val, rev, false) }
	p.presence = &presence{nc: nc, bucket: bucket{kv: kv, nc: nc, wrote: wrote, recent: newRecent()}, store: store, gateway: cfg.GatewayID,
		run: p.run, grace: cfg.Grace, log: log, now: cfg.Now}
	return p, p.beat(ctx)
}

func (p *Plane) buckets(ctx context.Context) (sessions jetstream.KeyValue, err error) {
	mk := func(name, desc string, ttl time.Duration) jetstream.KeyValue {
		if err != nil {
			return nil
		}
		var kv jetstream.KeyValue
		kv, err = p.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: desc, History: 1, TTL: ttl,
			Storage: jetstream.FileStorage, Replicas: p.cfg.Replicas,
		})
		if err != nil {
			err = fmt.Errorf("control: bucket %s: %w", name, err)
		}
		return kv
	}
	sessions = mk(subject.PresenceBucket, "chat sessions, room members and online users", 0)
	p.rooms = mk(subject.RoomsBucket, "chat rooms, public and private", 0)
	p.bans = mk(subject.BansBucket, "bans of users from rooms and from the chat", 0)
	p.gateways = mk(subject.GatewaysBucket, "live chat gateways (heartbeats)", 3*p.cfg.Heartbeat)
	return sessions, err
}

// Run listens for notices, watches the buckets, beats and sweeps until ctx ends. ready is
// closed once the local copy holds the buckets' current contents and the sessions of this
// gateway's previous run are released. A failure to start (the notices cannot be
// subscribed to, a bucket cannot be watched) is returned at once.
func (p *Plane) Run(ctx context.Context, ready chan<- struct{}) error {
	subs, err := p.listen()
	if err != nil {
		return fmt.Errorf("control: listening for notices: %w", err)
	}
	defer func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	watched := []struct {
		kv    jetstream.KeyValue
		apply func(string, []byte)
	}{{p.bucket.kv, p.state.applyPresence}, {p.rooms, p.state.applyRoom}, {p.bans, p.state.applyBan}}
	for _, w := range watched {
		kw, err := p.firstWatch(ctx, w.kv, w.apply)
		if err != nil {
			cancel()
			_ = g.Wait() // a watch started before this one stops before Run returns
			return fmt.Errorf("control: watching %s: %w", w.kv.Bucket(), err)
		}
		g.Go(func() error { p.keepWatching(ctx, kw, w.kv, w.apply); return nil })
	}
	p.orphans(ctx)
	close(ready)
	g.Go(func() error { p.notices.run(ctx, noticeEvery, p.local.Notice); return nil })
	g.Go(func() error { p.beating(ctx); return nil })
	g.Go(func() error { p.loop(ctx); return nil })
	return g.Wait()
}

// firstWatchTries bounds the first watch of a bucket: on a NATS cluster that has just
// formed or restarted, a watch can fail for a moment; one that still fails is an error.
const firstWatchTries = 5

// firstWatch starts a bucket's watch, trying again a few times while NATS is unreachable.
func (p *Plane) firstWatch(ctx context.Context, kv jetstream.KeyValue, apply func(string, []byte)) (jetstream.KeyWatcher, error) {
	for try := 1; ; try++ {
		w, err := p.state.startWatch(ctx, kv, apply)
		if err == nil || try == firstWatchTries || !history.IsOutage(err) {
			return w, err
		}
		p.log.Warn("bucket watch failed, trying again", "bucket", kv.Bucket(), "try", try, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(try) * 300 * time.Millisecond):
		}
	}
}

// orphans starts the grace period of sessions recorded on this gateway's id by an earlier
// run: a gateway restarted under the same id holds none of them any more.
func (p *Plane) orphans(ctx context.Context) {
	earlier := p.state.sessionsWhere(func(rec *sessionRecord) bool {
		return rec.GatewayID == p.cfg.GatewayID && rec.Run != p.run && rec.GraceUntil == 0
	})
	for _, rec := range earlier {
		err := p.startGrace(ctx, rec.UserID, rec.SessionID, rec.Conn)
		if ignoreSkip(err) != nil {
			p.log.Warn("a session of this gateway's previous run was not released", "user", rec.UserID, "err", err)
		}
	}
}

// keepWatching follows a bucket's watch, starting a new one when it ends with an error.
func (p *Plane) keepWatching(ctx context.Context, w jetstream.KeyWatcher, kv jetstream.KeyValue, apply func(string, []byte)) {
	for {
		err := p.state.follow(ctx, w, apply)
		w.Stop()
		if ctx.Err() != nil {
			return
		}
		p.log.Warn("bucket watch ended, watching again", "bucket", kv.Bucket(), "err", err)
		for w = nil; w == nil; {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if w, err = p.state.startWatch(ctx, kv, apply); err != nil {
				p.log.Warn("bucket watch failed, retrying", "bucket", kv.Bucket(), "err", err)
			}
		}
	}
}

// beating says, every Heartbeat, that this run of the gateway lives. It has a goroutine of
// its own, and each beat a deadline of one interval: a sweep held up by a NATS outage (its
// requests waiting out their timeouts) must not delay it, or the other gateways take this
// one for dead and expire its sessions while their connections are open. (The cluster
// tests saw clients receive their own leave after the stream's leader was killed.)
func (p *Plane) beating(ctx context.Context) {
	poll.Every(ctx, p.cfg.Heartbeat, func() {
		bctx, cancel := context.WithTimeout(ctx, p.cfg.Heartbeat)
		err := p.beat(bctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			// If this gateway cannot beat, the others likely cannot either (NATS is in
			// trouble, not the gateways): a missing heartbeat means nothing for a while.
			p.log.Warn("heartbeat failed", "err", err)
			p.beatFailed.Store(p.cfg.Now().UnixNano())
		}
	})
}

// loop sweeps, and expires rooms.
func (p *Plane) loop(ctx context.Context) {
	sweep := time.NewTicker(p.sweepEvery)
	defer sweep.Stop()
	sw := newSweeper(p)
	var expire <-chan time.Time // nil: rooms never expire
	if p.cfg.RoomExpiry > 0 {
		t := time.NewTicker(roomSweepEvery(p.cfg.RoomExpiry))
		defer t.Stop()
		expire = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-expire:
			p.expireRooms(ctx)
		case <-sweep.C:
			sw.sweep(ctx)
		}
	}
}

// beat says this run of the gateway lives.
func (p *Plane) beat(ctx context.Context) error {
	data, _ := json.Marshal(gatewayRecord{GatewayID: p.cfg.GatewayID, Run: p.run, Beat: p.cfg.Now().Unix()})
	_, err := p.gateways.Put(ctx, p.cfg.GatewayID, data)
	return err
}

// State is the local copy of presence and rooms, for answers that need not be exact.
func (p *Plane) State() *State { return p.state }

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
