// Package retry is how the gateway tries again after a failure that may pass by itself (a
// NATS outage, a compare-and-set race lost to another gateway): waits that grow
// exponentially, with jitter so that gateways and connections that failed together do not
// retry together, bounded by a context. The waits are cenkalti/backoff's; what is ours is
// which failures are worth another try, and that the caller learns why the last try failed
// rather than only that its context ended.
package retry

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Policy is the first wait after a failure and the longest one, and how long one try may
// take (Try; zero: as long as ctx allows).
type Policy struct {
	First, Max time.Duration
	Try        time.Duration
}

var (
	// Fast is for work a client waits on (a join, a leave, a presence event being stored).
	Fast = Policy{First: 100 * time.Millisecond, Max: time.Second}
	// Slow is for work in the background (a connection's end recorded late, a room feed).
	Slow = Policy{First: time.Second, Max: 10 * time.Second}
	// Start is for a step of start-up (opening a stream or a bucket): on a cluster that has
	// just formed, a request can go unanswered while a later one succeeds at once, so no
	// try waits more than 5 s.
	Start = Policy{First: 500 * time.Millisecond, Max: 3 * time.Second, Try: 5 * time.Second}
)

// Do runs op until it returns nil, or an error that again rejects, or ctx ends; then it
// returns op's last error (nil on success), also when ctx ended during a wait. notify, if
// not nil, hears every failure that will be tried again and the wait before the next try.
func Do(ctx context.Context, p Policy, again func(error) bool, op func(context.Context) error, notify func(err error, wait time.Duration)) error {
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		last = try(ctx, p.Try, op)
		if last != nil && !again(last) {
			return struct{}{}, backoff.Permanent(last)
		}
		return struct{}{}, last
	},
		backoff.WithBackOff(&backoff.ExponentialBackOff{InitialInterval: p.First, RandomizationFactor: 0.3, Multiplier: 2, MaxInterval: p.Max}),
		backoff.WithMaxElapsedTime(0), // ctx bounds it
		backoff.WithNotify(notify))
	if err != nil && last != nil {
		return last
	}
	return err
}

// Always is an again that tries every failure again.
func Always(error) bool { return true }

// try runs op with a deadline of d, if d is set.
func try(ctx context.Context, d time.Duration, op func(context.Context) error) error {
	if d <= 0 {
		return op(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return op(ctx)
}
