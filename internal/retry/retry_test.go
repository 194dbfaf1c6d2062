package retry

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

var (
	errOutage = errors.New("outage")
	errBad    = errors.New("bad request")
)

func transient(err error) bool { return errors.Is(err, errOutage) }

// Do tries again while the failure is transient, with waits that grow up to Max, and stops
// at the first success.
func TestDoRetriesTransientFailuresUntilSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tries int
		var waits []time.Duration
		start := time.Now()
		err := Do(t.Context(), Policy{First: 100 * time.Millisecond, Max: 400 * time.Millisecond}, transient,
			func(context.Context) error {
				if tries++; tries < 6 {
					return errOutage
				}
				return nil
			},
			func(_ error, wait time.Duration) { waits = append(waits, wait) })
		if err != nil || tries != 6 {
			t.Fatalf("Do: %v after %d tries, want success at the 6th", err, tries)
		}
		if len(waits) != 5 {
			t.Fatalf("waits %v, want 5", waits)
		}
		for i, w := range waits {
			if w <= 0 || w > 400*time.Millisecond*13/10 {
				t.Errorf("wait %d is %v, want within (0, Max + jitter]", i, w)
			}
		}
		if waits[3] < waits[0] {
			t.Errorf("waits do not grow: %v", waits)
		}
		if took := time.Since(start); took < 500*time.Millisecond {
			t.Errorf("5 retries took %v of fake time", took)
		}
	})
}

// A failure that is not transient ends Do at once, with that error.
func TestDoStopsAtAPermanentFailure(t *testing.T) {
	tries := 0
	err := Do(t.Context(), Fast, transient, func(context.Context) error {
		tries++
		return errBad
	}, nil)
	if !errors.Is(err, errBad) || tries != 1 {
		t.Fatalf("Do: %v after %d tries, want errBad after 1", err, tries)
	}
}

// When ctx ends, Do returns the last failure, not the context's error: the caller tells a
// client why (unavailable), not that a deadline passed.
func TestDoReturnsTheLastFailureWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		tries := 0
		err := Do(ctx, Fast, transient, func(context.Context) error {
			tries++
			return errOutage
		}, nil)
		if !errors.Is(err, errOutage) || tries < 3 {
			t.Fatalf("Do: %v after %d tries, want errOutage after several", err, tries)
		}
	})
}

// A policy's Try bounds each try on its own: a try that would wait for ever ends at its
// deadline and the next one runs.
func TestTryBoundsEachTry(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tries := 0
	err := Do(ctx, Policy{First: time.Millisecond, Max: time.Millisecond, Try: 50 * time.Millisecond}, Always,
		func(ctx context.Context) error {
			if tries++; tries == 1 {
				<-ctx.Done() // unanswered
				return ctx.Err()
			}
			return nil
		}, nil)
	if err != nil || tries != 2 {
		t.Fatalf("err %v after %d tries, want success on the second", err, tries)
	}
}
