package poll

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// Until returns once cond holds, having checked it at the interval.
func TestUntilChecksAtTheIntervalUntilTheConditionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start, checks := time.Now(), 0
		err := Until(t.Context(), 10*time.Millisecond, func() bool { checks++; return checks == 4 })
		if err != nil || checks != 4 {
			t.Fatalf("Until: %v after %d checks, want nil after 4", err, checks)
		}
		if took := time.Since(start); took != 30*time.Millisecond {
			t.Fatalf("took %v, want 30ms (three intervals)", took)
		}
	})
}

// Until and Within give up with the context's error when the condition never holds.
func TestUntilAndWithinEndWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if err := Until(ctx, 10*time.Millisecond, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Until: %v, want the deadline", err)
		}
		start := time.Now()
		if err := Within(t.Context(), 50*time.Millisecond, 10*time.Millisecond, func() bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Within: %v, want the deadline", err)
		}
		if took := time.Since(start); took != 50*time.Millisecond {
			t.Fatalf("Within took %v, want 50ms", took)
		}
	})
}

// Sleep sleeps the whole time, or stops when ctx ends.
func TestSleepStopsWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !Sleep(t.Context(), time.Second) || time.Since(start) != time.Second {
			t.Fatalf("Sleep did not sleep a second: %v", time.Since(start))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start = time.Now()
		if Sleep(ctx, time.Second) || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("Sleep did not stop with its context: %v", time.Since(start))
		}
	})
}

// UntilNil returns nil once cond does, or cond's last error when the time is up.
func TestUntilNilReturnsTheLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		if err := UntilNil(t.Context(), time.Second, 10*time.Millisecond, func() error {
			if calls++; calls < 3 {
				return errors.New("not yet")
			}
			return nil
		}); err != nil || calls != 3 {
			t.Fatalf("UntilNil: %v after %d calls, want nil after 3", err, calls)
		}
		errDown := errors.New("down")
		start := time.Now()
		err := UntilNil(t.Context(), 100*time.Millisecond, 10*time.Millisecond, func() error { return errDown })
		if !errors.Is(err, errDown) || time.Since(start) < 100*time.Millisecond {
			t.Fatalf("UntilNil: %v after %v, want errDown after 100ms", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err = UntilNil(ctx, time.Hour, 10*time.Millisecond, func() error { return errDown })
		if !errors.Is(err, errDown) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("UntilNil with its context ended: %v, want errDown and the deadline", err)
		}
	})
}

// Every calls fn once an interval, the first time one interval in, and stops with ctx.
func TestEveryCallsAtTheIntervalUntilTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 350*time.Millisecond)
		defer cancel()
		start := time.Now()
		var at []time.Duration
		Every(ctx, 100*time.Millisecond, func() { at = append(at, time.Since(start)) })
		want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
		if !slices.Equal(at, want) || time.Since(start) != 350*time.Millisecond {
			t.Fatalf("called at %v, returned at %v; want %v and 350ms", at, time.Since(start), want)
		}
	})
}
