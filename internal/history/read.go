package history

import (
	"context"
	"math"

	"github.com/chathub/chathub/internal/subject"
)

// Latest returns the room's newest limit events with an id <= upto (upto 0: no bound),
// oldest first.
func (s *Store) Latest(ctx context.Context, room string, limit int, upto uint64) ([]Stored, error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	sp, ok, err := s.locate(ctx, subject.Events(room), upto)
	if err != nil {
		return nil, failed("read "+room, err)
	}
	if !ok {
		return nil, nil
	}
	evs, err := s.tail(ctx, sp, limit)
	if err != nil {
		return nil, failed("read "+room, err)
	}
	return evs, nil
}

// Before returns the limit events of the room just before id before (before 0: the newest),
// oldest first: one page back.
func (s *Store) Before(ctx context.Context, room string, before uint64, limit int) ([]Stored, error) {
	switch before {
	case 0:
		return s.Latest(ctx, room, limit, 0)
	case 1:
		return nil, nil
	}
	return s.Latest(ctx, room, limit, before-1)
}

// After returns the room's events with since < id <= upto (upto 0: no bound), oldest first,
// at most max of them; more reports that there were more than max, of which it returned the
// first max. It costs one round trip when the range holds fewer than about max events.
func (s *Store) After(ctx context.Context, room string, since, upto uint64, max int) (evs []Stored, more bool, err error) {
	hi := upto
	if hi == 0 {
		hi = math.MaxUint64
	}
	if max <= 0 || since >= hi {
		return nil, false, nil
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	err = s.scan(ctx, subject.Events(room), since+1, hi, max+1, func(m msg) bool {
		if len(evs) == max {
			more = true
			return false
		}
		evs = append(evs, Stored{ID: m.seq, Data: m.data})
		return true
	})
	if err != nil {
		return nil, false, failed("read "+room, err)
	}
	return evs, more, nil
}
