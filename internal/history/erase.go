package history

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go/jetstream"
)

// Get returns the event id of room; ok is false when the stream holds no such event (never
// stored, erased, aged out, or an event of another room). The leader answers, so an event
// whose append was acknowledged is always found.
func (s *Store) Get(ctx context.Context, room string, id uint64) (ev Stored, ok bool, err error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, ok, err := s.leaderGet(ctx, msgRequest{Seq: id})
	if err != nil {
		return Stored{}, false, failed("get from "+room, err)
	}
	if !ok || m.subject != subject.Events(room) {
		return Stored{}, false, nil
	}
	return Stored{ID: m.seq, Data: m.data}, true, nil
}

// Erase removes the event id from the stream, its payload overwritten on disk (a secure
// delete). An event already gone is not an error.
func (s *Store) Erase(ctx context.Context, id uint64) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	err := s.stream.SecureDeleteMsg(ctx, id)
	// nats.go keeps only the text of the server's refusal: "no message found" (10057), or
	// "sequence not found" (10043) once the sequence is gone from the store.
	if errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) &&
		(strings.Contains(err.Error(), "err_code=10057") || strings.Contains(err.Error(), "err_code=10043")) {
		return nil
	}
	if err != nil {
		return failed("erase", err)
	}
	return nil
}

// Referring returns the ids of the room's events of type typ whose target is target. It
// reads every event of the room stored after target (they alone can refer to it), in
// direct batch gets of up to 1,024 events: its cost grows with the room's events since
// the target, at most the per-room depth (Config.Depth), and it decodes no event fully.
func (s *Store) Referring(ctx context.Context, room string, target uint64, typ string) ([]uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var ids []uint64
	err := s.scan(ctx, subject.Events(room), target+1, math.MaxUint64, maxBatch, func(m msg) bool {
		if t, tg := protocol.Peek(m.data); t == typ && tg == target {
			ids = append(ids, m.seq)
		}
		return true
	})
	if err != nil {
		return nil, failed("read "+room, err)
	}
	return ids, nil
}

// errCodeWrongLastMsgID is the server's error code for a failed expected last message id
// (JSStreamWrongLastMsgIDErrF); nats.go names no constant for it.
const errCodeWrongLastMsgID jetstream.ErrorCode = 10070

// StoredAs reports the id under which an event sent with msgID was stored within the
// deduplication window, without storing anything: ok is false when none was. It publishes
// payload with an expected last message id that cannot match, which the stream checks
// after its deduplication: a duplicate is answered with the original's id, anything else
// is refused.
func (s *Store) StoredAs(ctx context.Context, room string, payload []byte, msgID string) (id uint64, ok bool, err error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	msg, opts := message(room, payload, msgID, nil)
	opts = append(opts, jetstream.WithExpectLastMsgID("chat:never-a-message-id"))
	ack, err := s.js.PublishMsg(ctx, msg, opts...)
	var apiErr *jetstream.APIError
	switch {
	case err == nil && ack.Duplicate:
		return ack.Sequence, true, nil
	case err == nil:
		return 0, false, errors.New("history: a probe was stored")
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeWrongLastMsgID:
		return 0, false, nil
	}
	return 0, false, failed("probe "+room, err)
}

// Count counts the room's events after id after that match, up to max: it reads them in
// direct batch gets and stops at the max-th match, or at the room's newest event.
func (s *Store) Count(ctx context.Context, room string, after uint64, max int, match func(data []byte) bool) (int, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	n := 0
	err := s.scan(ctx, subject.Events(room), after+1, math.MaxUint64, 2*max, func(m msg) bool {
		if match(m.data) {
			n++
		}
		return n < max
	})
	if err != nil {
		return 0, failed("read "+room, err)
	}
	return n, nil
}
