package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// errConflict marks a compare-and-set that lost a race (retried by update).
var errConflict = errors.New("control: conflicting update")

// ErrContended is returned when a key changed under every one of an update's tries: the
// change was not made, and may be tried again.
var ErrContended = errors.New("control: too many conflicting updates")

const casTries = 20

// bucket is a key-value bucket, and what to tell of each of our own writes to it.
type bucket struct {
	kv jetstream.KeyValue
	// wrote, if set, hears every successful write at once (val nil: deleted), so the local
	// copy reads our own writes before the watcher brings them.
	wrote func(key string, val []byte, rev uint64)
}

// update reads key, lets change decide its next value (nil deletes it) and writes it back
// only if nobody wrote in between, trying again when somebody did. change may be called
// several times and must not have side effects. It returns the value change last saw.
func update[T any](ctx context.Context, b bucket, key string, change func(cur *T) (*T, error)) (*T, error) {
	for range casTries {
		cur, rev, err := get[T](ctx, b.kv, key)
		if err != nil {
			return nil, err
		}
		next, err := change(cur)
		if err != nil {
			return cur, err
		}
		err = write(ctx, b, key, cur != nil, rev, next)
		if !errors.Is(err, errConflict) {
			return cur, err
		}
	}
	return nil, fmt.Errorf("%w of %s", ErrContended, key)
}

// get reads a JSON value; a missing key is (nil, 0, nil).
func get[T any](ctx context.Context, kv jetstream.KeyValue, key string) (*T, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("control: get %s: %w", key, err)
	}
	v := new(T)
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return nil, 0, fmt.Errorf("control: decode %s: %w", key, err)
	}
	return v, e.Revision(), nil
}

func write[T any](ctx context.Context, b bucket, key string, exists bool, rev uint64, next *T) error {
	var err error
	var val []byte
	newRev := rev + 1 // a delete's revision is at least this
	switch {
	case next == nil && !exists:
		return nil
	case next == nil:
		err = b.kv.Delete(ctx, key, jetstream.LastRevision(rev))
	default:
		if val, err = json.Marshal(next); err != nil {
			return fmt.Errorf("control: encode %s: %w", key, err)
		}
		if exists {
			newRev, err = b.kv.Update(ctx, key, val, rev)
		} else {
			newRev, err = b.kv.Create(ctx, key, val)
		}
	}
	if isConflict(err) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("control: write %s: %w", key, err)
	}
	if b.wrote != nil {
		b.wrote(key, val, newRev)
	}
	return nil
}

func isConflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	// A replicated (R3) bucket reports a conflict as 10164, a single node as 10071.
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
