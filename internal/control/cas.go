package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errConflict marks a compare-and-set that lost a race (retried by update).
var errConflict = errors.New("control: conflicting update")

// ErrContended is returned when every try of an update lost its compare-and-set to another
// writer of the key: a transient condition, worth trying again later.
var ErrContended = errors.New("control: too many conflicting updates")

const casTries = 20

// bucket is a key-value bucket, and what to tell of each of our own writes to it.
type bucket struct {
	kv jetstream.KeyValue
	nc *nats.Conn // for reads from the bucket stream's leader (getLeader)
	// recent, if set, remembers our last writes, which update tries first (see recent).
	recent *recent
	// wrote, if set, hears every successful write at once (val nil: deleted), so the local
	// copy reads our own writes before the watcher brings them.
	wrote func(key string, val []byte, rev uint64)
}

// update reads key, lets change decide its next value (nil deletes it) and writes it back
// only if nobody wrote in between, trying again when somebody did. change may be called
// several times and must not have side effects. It returns the value change last saw.
//
// The first read is a direct get, which any replica of the bucket may answer, and a
// replica can lag behind the writes already acknowledged, our own included, by tens of
// milliseconds on a busy machine. A write based on such a read fails its compare-and-set,
// and a decision not to write (change's error, or deleting what seems absent) would be made
// on a past value. So after a conflict, or before keeping a decision not to write, key is
// read again from the stream's leader, which has every acknowledged write: retries then
// lose only to writers that really came in between, not to a lagging copy.
//
// When b remembers our own last write of key (b.recent), the first try takes that as the
// key's value without reading it: a guess, which the compare-and-set checks like a read
// from a lagging replica.
func update[T any](ctx context.Context, b bucket, key string, change func(cur *T) (*T, error)) (*T, error) {
	fresh := false // cur is the leader's
	for try := range casTries {
		var cur *T
		var rev uint64
		var err error
		switch val, r, ok := b.recent.get(key); {
		case fresh:
			cur, rev, err = getLeader[T](ctx, b, key)
		case try == 0 && ok:
			cur, rev = new(T), r
			if json.Unmarshal(val, cur) != nil {
				cur, rev, err = get[T](ctx, b.kv, key)
			}
		default:
			cur, rev, err = get[T](ctx, b.kv, key)
		}
		if err != nil {
			return nil, err
		}
		next, err := change(cur)
		if (err != nil || next == nil && cur == nil) && !fresh {
			fresh = true
			continue
		}
		if err != nil {
			return cur, err
		}
		err = write(ctx, b, key, cur != nil, rev, next)
		if !errors.Is(err, errConflict) {
			return cur, err
		}
		fresh = true
	}
	return nil, fmt.Errorf("%w: %s", ErrContended, key)
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

// getLeader reads a JSON value from the bucket stream's leader. A missing key is (nil, 0,
// nil); a deleted one is nil with the revision of its delete marker, for the next write to
// expect.
func getLeader[T any](ctx context.Context, b bucket, key string) (*T, uint64, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second) // as jetstream's requests
		defer cancel()
	}
	req, _ := json.Marshal(map[string]string{"last_by_subj": "$KV." + b.kv.Bucket() + "." + key})
	msg, err := b.nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET.KV_"+b.kv.Bucket(), req)
	if err != nil {
		return nil, 0, fmt.Errorf("control: get %s: %w", key, err)
	}
	var resp struct {
		Error   *jetstream.APIError `json:"error"`
		Message *struct {
			Seq  uint64 `json:"seq"`
			Hdrs []byte `json:"hdrs"`
			Data []byte `json:"data"`
		} `json:"message"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("control: get %s: %w", key, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, 0, nil
	case resp.Error != nil:
		return nil, 0, fmt.Errorf("control: get %s: %w", key, resp.Error)
	case resp.Message == nil:
		return nil, 0, fmt.Errorf("control: get %s: empty answer", key)
	}
	if len(resp.Message.Hdrs) > 0 {
		h, err := nats.DecodeHeadersMsg(resp.Message.Hdrs)
		if err != nil {
			return nil, 0, fmt.Errorf("control: get %s: %w", key, err)
		}
		if op := h.Get("KV-Operation"); op == "DEL" || op == "PURGE" || h.Get(jetstream.MarkerReasonHeader) != "" {
			return nil, resp.Message.Seq, nil
		}
	}
	v := new(T)
	if err := json.Unmarshal(resp.Message.Data, v); err != nil {
		return nil, 0, fmt.Errorf("control: decode %s: %w", key, err)
	}
	return v, resp.Message.Seq, nil
}

// write stores next (nil: deletes the key) if the key's last revision is still rev (0: the
// key was never written, or its history is gone).
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
		if rev > 0 { // a value, or the marker of its delete
			newRev, err = b.kv.Update(ctx, key, val, rev)
		} else {
			newRev, err = b.kv.Create(ctx, key, val)
		}
	}
	if err != nil {
		b.recent.forget(key)
	}
	if isConflict(err) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("control: write %s: %w", key, err)
	}
	b.recent.put(key, val, newRev)
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
