package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/retry"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
)

const (
	// feedBuffer is how many live messages wait in the feed's channel. More wait in the
	// subscription's pending list (nats.go's limits: 512k messages, 64 MB), which grows
	// only while the feed is behind; beyond them NATS drops messages and the gap is filled
	// from the stream. A gap is costly (a stream read), so a feed behind by a second of a
	// busy room should not make one. (With the channel alone, 1,024 messages, 12,000 msg/s
	// offered over 10 rooms delivered about 2,000 events a second while the process was
	// mostly waiting; with the subscription's list, 20,000 in a run as noisy: see
	// docs/benchmarks.md. That gap reads were the wait is likely, not measured.)
	feedBuffer = 1024
	feedBatch  = 256  // events handed to the hub at once
	fillPage   = 1000 // events read from the stream per gap-filling read
)

// feed follows one room's live republish feed and hands its events to the hub in order.
// Each republished event carries Nats-Sequence (its id) and Nats-Last-Sequence (the id of
// the room's previous event): when the previous one is not the last delivered, some were
// lost on the way (core NATS is at most once) and are read back from the stream.
type feed struct {
	room   string
	epoch  uint64
	owner  *Feeds
	sink   hub.Sink
	cancel context.CancelFunc

	pokec  chan struct{} // sent by checkIdle; read by run
	active atomic.Int64  // unix nanos of the last delivery

	last  uint64 // owned by run: the id of the last event handed to the hub
	reset bool   // owned by run: the hub has been told where the room stands
}

func (fd *feed) stop() { fd.cancel() }

func (fd *feed) poke() {
	select {
	case fd.pokec <- struct{}{}:
	default:
	}
}

func (fd *feed) idleFor() time.Duration {
	return time.Duration(time.Now().UnixNano() - fd.active.Load())
}

// run serves the feed until it is stopped, starting over after a failure.
func (fd *feed) run(ctx context.Context) {
	retry.Do(ctx, retry.Policy{First: 100 * time.Millisecond, Max: 5 * time.Second}, retry.Always,
		func(ctx context.Context) error {
			if err := fd.serve(ctx); err != nil || ctx.Err() != nil {
				return err
			}
			return errFeedEnded
		},
		func(err error, wait time.Duration) {
			fd.owner.log.Warn("room feed failed, retrying", "room", fd.room, "err", err, "in", wait)
		})
}

// errFeedEnded is a feed's serve that ended without an error while the feed still runs.
var errFeedEnded = errors.New("bridge: room feed ended")

func (fd *feed) serve(ctx context.Context) error {
	ch, stop := make(chan *nats.Msg, feedBuffer), make(chan struct{})
	sub, err := fd.owner.nc.Subscribe(liveSubject(fd.room), func(m *nats.Msg) {
		select { // while the feed is behind, messages wait in the subscription
		case ch <- m:
		case <-stop:
		}
	})
	if err != nil {
		return fmt.Errorf("bridge: subscribe: %w", err)
	}
	defer sub.Unsubscribe()
	defer close(stop) // before the unsubscribe: a handler waiting to hand a message over gives up
	typing, err := fd.owner.nc.Subscribe(subject.Typing(fd.room), fd.typing)
	if err != nil {
		return fmt.Errorf("bridge: subscribe: %w", err)
	}
	defer typing.Unsubscribe()
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = fd.owner.nc.FlushWithContext(fctx)
	cancel()
	if err != nil {
		return fmt.Errorf("bridge: flush: %w", err)
	}
	if err := fd.catchUp(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			if err := fd.handle(ctx, m, ch); err != nil {
				return err
			}
		case <-fd.pokec:
			if err := fd.catchUp(ctx); err != nil {
				return err
			}
		}
	}
}

// typing passes a typing notice on: its payload is the notice as clients see it, its
// Chat-User header the user typing.
func (fd *feed) typing(m *nats.Msg) {
	if user := m.Header.Get(TypingUser); user != "" {
		fd.sink.Typing(fd.room, user, &hub.Frame{Data: m.Data})
	}
}

// catchUp reads where the room stands: the first time, it tells the hub; later, it fills
// whatever was stored since the last delivered event.
func (fd *feed) catchUp(ctx context.Context) error {
	last, err := fd.owner.store.LastID(ctx, fd.room)
	if err != nil {
		return err
	}
	if !fd.reset {
		fd.last, fd.reset = last, true
		return fd.sink.Reset(fd.room, fd.epoch, last)
	}
	out, err := fd.fill(ctx, last, nil)
	return errors.Join(fd.deliver(out), err) // delivered even if the fill failed: see handle
}

// handle delivers m and whatever else is already waiting, as one batch.
func (fd *feed) handle(ctx context.Context, m *nats.Msg, ch chan *nats.Msg) error {
	var out []hub.Event
	var err error
	for {
		if out, err = fd.accept(ctx, m, out); err != nil || len(out) >= feedBatch {
			break
		}
		select {
		case m = <-ch:
			continue
		default:
		}
		break
	}
	// Even when a read from the stream failed partway, out holds every event after the
	// last delivered up to fd.last, in order; the feed's retry reads on from fd.last, so
	// what out holds goes to the hub now or never.
	return errors.Join(fd.deliver(out), err)
}

// accept appends m to out, first filling any gap before it from the stream.
func (fd *feed) accept(ctx context.Context, m *nats.Msg, out []hub.Event) ([]hub.Event, error) {
	id, err := strconv.ParseUint(m.Header.Get(nats.JSSequence), 10, 64)
	if err != nil || id <= fd.last {
		return out, nil
	}
	prev, err := strconv.ParseUint(m.Header.Get(nats.JSLastSequence), 10, 64)
	if err != nil {
		prev = id - 1 // not told: whatever the room stored before it
	}
	if prev > fd.last {
		// The read ends at prev, an event the stream holds: no replica that answers
		// short of it is taken at its word (history's reads ask the leader then).
		if out, err = fd.fill(ctx, prev, out); err != nil {
			return out, err
		}
	}
	fd.last = id
	return append(out, event(id, m.Data)), nil
}

// fill appends the room's stored events after fd.last up to upto.
func (fd *feed) fill(ctx context.Context, upto uint64, out []hub.Event) ([]hub.Event, error) {
	for fd.last < upto {
		evs, more, err := fd.owner.store.After(ctx, fd.room, fd.last, upto, fillPage)
		if err != nil {
			return out, err
		}
		for _, ev := range evs {
			out = append(out, event(ev.ID, ev.Data))
			fd.last = ev.ID
		}
		fd.owner.counts.Refilled(len(evs))
		if !more {
			fd.last = upto
		}
	}
	return out, nil
}

func (fd *feed) deliver(out []hub.Event) error {
	if len(out) == 0 {
		return nil
	}
	fd.active.Store(time.Now().UnixNano())
	fd.owner.counts.Delivered(len(out))
	return fd.sink.Deliver(fd.room, fd.epoch, out)
}

// event makes the hub's event of a stored payload: encoded once, shared by every session.
func event(id uint64, stored []byte) hub.Event {
	typ, target := protocol.Peek(stored)
	return hub.Event{ID: id, Frame: &hub.Frame{Data: protocol.WithID(stored, id)},
		Target: target, Edit: typ == protocol.TypeEdit, Erase: typ == protocol.TypeDelete,
		Presence: protocol.IsPresence(typ)}
}

// Event converts stored events for the gateway's replies.
func Event(s history.Stored) hub.Event { return event(s.ID, s.Data) }
