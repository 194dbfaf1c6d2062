package history

import (
	"context"
	"sync"
)

// scan hands fn every message of subj with from <= seq <= hi, oldest first, until fn returns
// false. hint, the number of messages expected, sizes the batches. A batch that runs out
// before hi may come from a replica behind the leader: the leader tells what follows.
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
		if err != nil || stop || (got > 0 && last.seq >= hi) {
			return err
		}
		if got > 0 {
			from = last.seq + 1
		}
		if got > 0 && last.pending > 0 {
			// The batch was full or cut short by the server's byte limit: go on after it.
			hint = int(min(last.pending, uint64(hint)))
			continue
		}
		// The replica that answered has nothing more of subj: ask the leader.
		m, ok, err := s.leaderNext(ctx, subj, from, hi)
		if err != nil || !ok || !fn(m) {
			return err
		}
		from = m.seq + 1
	}
	return nil
}

// last returns the newest message of subj; ok is false when there is none. The leader
// answers: a replica may not have the newest one yet.
func (s *Store) last(ctx context.Context, subj string) (m msg, ok bool, err error) {
	return s.leaderGet(ctx, msgRequest{LastFor: subj})
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
