// Package poll is waiting without a signal to wait on: doing something again at an
// interval (a periodic check, or a condition that tests and the load tools watch from
// outside), and sleeping unless a context ends first.
package poll

import (
	"context"
	"fmt"
	"time"
)

// Every calls fn every interval, the first time one interval from now, until ctx ends.
func Every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// Until checks cond at once and then every interval until it holds, and returns nil; or
// ctx's error if ctx ends first.
func Until(ctx context.Context, interval time.Duration, cond func() bool) error {
	if cond() {
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if cond() {
				return nil
			}
		}
	}
}

// Within is Until bounded by d as well as by ctx.
func Within(ctx context.Context, d, interval time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return Until(ctx, interval, cond)
}

// UntilNil calls cond at once and then every interval until it returns nil, and returns
// nil; or, once timeout has passed or ctx has ended, cond's last error.
func UntilNil(ctx context.Context, timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("poll: after %v: %w", timeout, err)
		}
		if !Sleep(ctx, interval) {
			return fmt.Errorf("poll: %w; last: %w", ctx.Err(), err)
		}
	}
}

// Sleep waits d and reports true, or returns false as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
