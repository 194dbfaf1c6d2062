package history

import (
	"context"
	"errors"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// scan hands fn every message of subj with from <= seq <= hi, oldest first, until fn returns
// false. hint, the number of messages expected, sizes the batches.
func (s *Store) scan(ctx context.Context, subj string, from, hi uint64, hint int, fn func(msg) bool) error {
	for from <= hi {
		var last msg
		got, stop := 0, false
		err := s.fetch(ctx, subj, from, hint, func(m msg) bool {
			if m.seq > hi || !fn(m) {
				stop = true
				return false
			}
			last, got = m, got+1
			return true
		})
		if err != nil || stop || got == 0 || last.pending == 0 || last.seq >= hi {
			return err
		}
		// The batch was full or cut short by the server's byte limit: go on after it.
		from, hint = last.seq+1, int(min(last.pending, uint64(hint)))
	}
	return nil
}

// last returns the newest message of subj; ok is false when there is none.
func (s *Store) last(ctx context.Context, subj string) (m msg, ok bool, err error) {
	raw, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return msg{}, false, nil
	}
	if err != nil {
		return msg{}, false, err
	}
	return msg{seq: raw.Sequence, data: raw.Data}, true, nil
}

// parallel runs fns concurrently and returns the first error of them, in order.
func parallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns[1:] {
		wg.Go(func() { errs[i+1] = fn() })
	}
	errs[0] = fns[0]()
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
