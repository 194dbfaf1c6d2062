// Package markers keeps every user's read marker of every room in a JetStream key-value
// bucket (subject.MarkersBucket), under the key "<user>.<room>". A marker only moves
// forward: each move is a compare-and-set on its key, so two gateways racing cannot move
// it back. Every gateway watches the bucket and passes each move to the user's sessions.
package markers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/subject"
)

// ErrContended is returned when every try of a move lost its compare-and-set.
var ErrContended = errors.New("markers: too many conflicting updates")

const tries = 20

// value is a marker as stored: the id, and the connection that moved it there (whose
// session has its answer already, so the notice skips it).
type value struct {
	ID   uint64 `json:"id"`
	Conn string `json:"conn,omitempty"`
}

// Store is the markers bucket. It is safe for concurrent use.
type Store struct {
	kv        jetstream.KeyValue
	nc        *nats.Conn
	directGet string // the bucket stream's direct get subject
}

// Open creates the bucket, or updates it, and returns a Store on it.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: subject.MarkersBucket, Description: "chat read markers, one key per user and room",
		History: 1, Storage: jetstream.FileStorage, Replicas: max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("markers: bucket %s: %w", subject.MarkersBucket, err)
	}
	return &Store{kv: kv, nc: js.Conn(), directGet: "$JS.API.DIRECT.GET.KV_" + subject.MarkersBucket}, nil
}

func key(user, room string) string { return user + "." + room }

// Get returns user's marker of room, 0 when there is none.
func (s *Store) Get(ctx context.Context, user, room string) (uint64, error) {
	v, _, err := s.get(ctx, key(user, room))
	return v.ID, err
}

func (s *Store) get(ctx context.Context, k string) (value, uint64, error) {
	e, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return value{}, 0, nil
	}
	if err != nil {
		return value{}, 0, fmt.Errorf("markers: get %s: %w", k, err)
	}
	var v value
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return value{}, 0, fmt.Errorf("markers: %s holds %q: %w", k, e.Value(), err)
	}
	return v, e.Revision(), nil
}

// Advance moves user's marker of room to id unless it is there or beyond already, and
// returns the marker's value afterwards and whether it moved. conn names the connection
// that asked (its notice skips it).
func (s *Store) Advance(ctx context.Context, user, room, conn string, id uint64) (uint64, bool, error) {
	k := key(user, room)
	for range tries {
		cur, rev, err := s.get(ctx, k)
		if err != nil {
			return 0, false, err
		}
		if id <= cur.ID {
			return cur.ID, false, nil
		}
		next, _ := json.Marshal(value{ID: id, Conn: conn})
		if rev == 0 {
			_, err = s.kv.Create(ctx, k, next)
		} else {
			_, err = s.kv.Update(ctx, k, next, rev)
		}
		if err == nil {
			return id, true, nil
		}
		if !conflict(err) {
			return 0, false, fmt.Errorf("markers: update %s: %w", k, err)
		}
	}
	return 0, false, fmt.Errorf("%w: %s", ErrContended, k)
}

func conflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Of returns every marker of user, by room, in one direct get of the last value of each of
// the user's keys.
func (s *Store) Of(ctx context.Context, user string) (map[string]uint64, error) {
	prefix := "$KV." + subject.MarkersBucket + "." + user + "."
	req, _ := json.Marshal(map[string]any{"multi_last": []string{prefix + "*"}, "batch": 4096})
	replies := make(chan *nats.Msg, 4097)
	sub, err := s.nc.ChanSubscribe(s.nc.NewInbox(), replies)
	if err != nil {
		return nil, fmt.Errorf("markers: %w", err)
	}
	defer sub.Unsubscribe()
	if err := s.nc.PublishRequest(s.directGet, sub.Subject, req); err != nil {
		return nil, fmt.Errorf("markers: %w", err)
	}
	out := make(map[string]uint64)
	for {
		select {
		case m := <-replies:
			if end, err := history.DirectStatus(m); err != nil {
				return nil, fmt.Errorf("markers: read of %s: %w", user, err)
			} else if end {
				return out, nil
			}
			room := strings.TrimPrefix(m.Header.Get(nats.JSSubject), prefix)
			var v value
			if json.Unmarshal(m.Data, &v) == nil && room != "" && v.ID > 0 {
				out[room] = v.ID
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("markers: read of %s: %w", user, ctx.Err())
		}
	}
}

// Watcher hears every move of a marker in the bucket's order, from when it was made.
type Watcher struct{ w jetstream.KeyWatcher }

// Watch starts watching the bucket's moves from now on (a failure to start is returned,
// so that the gateway's start fails fast); Run then passes them on.
func (s *Store) Watch(ctx context.Context) (*Watcher, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return nil, fmt.Errorf("markers: watch: %w", err)
	}
	return &Watcher{w}, nil
}

// Run passes every move to moved until ctx ends: the user, the room, the marker's value,
// and the connection that moved it. A user's sessions so see one room's marker only grow.
// The watch is an ordered consumer, which nats.go recreates by itself after an outage.
func (w *Watcher) Run(ctx context.Context, moved func(user, room, conn string, id uint64)) {
	defer w.w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.w.Updates():
			if !ok {
				return
			}
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			user, room, ok := strings.Cut(e.Key(), ".")
			var v value
			if ok && json.Unmarshal(e.Value(), &v) == nil {
				moved(user, room, v.Conn, v.ID)
			}
		}
	}
}
