package history

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// msg is one message of a direct batch get.
type msg struct {
	seq uint64
	// pending is the number of messages of the subject after this one, as the batch began.
	pending uint64
	data    []byte
	subject string // set by leaderGet only
}

// maxBatch bounds one direct get; readers of more go on after it (its last message's
// pending count tells there is more).
const maxBatch = 1024

// maxBatchBytes bounds the bytes of one direct get. Without it the server sends up to its
// slow-consumer limit (64 MB) at once: a few concurrent reads of a room of big events then
// put more than that in flight to the gateway's one NATS connection, and the server cuts
// the connection as a slow consumer, for everyone on the gateway.
const maxBatchBytes = 1 << 20

// batchRequest is the server's direct get request (JSApiMsgGetRequest), batch form.
type batchRequest struct {
	Seq      uint64 `json:"seq"`
	NextFor  string `json:"next_by_subj"`
	Batch    int    `json:"batch"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// fetch sends one direct batch get: up to n messages of subj with a sequence >= from, oldest
// first, each handed to fn until fn returns false. Finding no message is not an error. The
// batch ends with the server's end-of-batch marker, so a timeout is an error, never a short
// batch.
func (s *Store) fetch(ctx context.Context, subj string, from uint64, n int, fn func(msg) bool) error {
	n = min(max(n, 1), maxBatch)
	req, err := json.Marshal(batchRequest{Seq: max(from, 1), NextFor: subj, Batch: n, MaxBytes: maxBatchBytes})
	if err != nil {
		return err
	}
	// Room for the whole batch and its end marker, so nothing is dropped however slowly it
	// is read (a sync subscription would allocate NATS's default 64k-message channel).
	replies := make(chan *nats.Msg, n+1)
	sub, err := s.nc.ChanSubscribe(s.nc.NewInbox(), replies)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := s.nc.PublishRequest(s.directGet, sub.Subject, req); err != nil {
		return err
	}
	for {
		select {
		case m := <-replies:
			if done, err := deliver(m, fn); done || err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deliver hands one reply of a batch to fn; done reports the end of the batch.
func deliver(m *nats.Msg, fn func(msg) bool) (done bool, err error) {
	if end, err := DirectStatus(m); end || err != nil {
		return true, err
	}
	seq, err1 := strconv.ParseUint(m.Header.Get(nats.JSSequence), 10, 64)
	pending, err2 := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
	if err1 != nil || err2 != nil {
		return true, fmt.Errorf("direct get: bad reply headers %v", m.Header)
	}
	return !fn(msg{seq: seq, pending: pending, data: m.Data}), nil
}

// DirectStatus reads a reply of a direct batch get for its status: end is true at the
// server's end-of-batch marker and when nothing matched (a status of 204 or 404, err nil);
// a status of 503 (no server answers: the stream is down or has no leader yet, as after a
// cluster restart) is nats.ErrNoResponders, an outage; any other status is an error. A
// reply carrying a message has no status: end false, err nil.
func DirectStatus(m *nats.Msg) (end bool, err error) {
	status := m.Header.Get("Status")
	if status == "" || len(m.Data) > 0 {
		return false, nil
	}
	switch status {
	case "204", "404":
		return true, nil
	case "503":
		return true, nats.ErrNoResponders
	}
	return true, fmt.Errorf("direct get: status %s %s", status, m.Header.Get("Description"))
}

// probe returns the first message of subj with a sequence >= from, and ok false when there is
// none. Its pending counts the subject's messages after it.
func (s *Store) probe(ctx context.Context, subj string, from uint64) (m msg, ok bool, err error) {
	err = s.fetch(ctx, subj, from, 1, func(got msg) bool {
		m, ok = got, true
		return false
	})
	return m, ok, err
}
