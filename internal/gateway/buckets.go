package gateway

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// buckets are token buckets by key (a user, a client address), shared by every connection
// of that key on this gateway, so that reconnecting does not refill them. A bucket that is
// full again is forgotten (a new one would be the same), so memory follows the keys active
// within one refill time. A nil *buckets allows everything.
type buckets struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex // guards m and ops
	m     map[string]*rate.Limiter
	ops   int // calls since the last sweep
	peak  int // the most buckets m has held since it was made
	clock func() time.Time
}

// newBuckets makes buckets of r tokens a second holding burst (zero: twice r, at least 1);
// r <= 0 means no limit (nil).
func newBuckets(r float64, burst int) *buckets {
	if r <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(int(2*r), 1)
	}
	return &buckets{limit: rate.Limit(r), burst: burst, m: make(map[string]*rate.Limiter), clock: time.Now}
}

// allow takes a token from key's bucket, reporting whether there was one.
func (b *buckets) allow(key string) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	return b.get(key, now).AllowN(now, 1)
}

// has reports whether key's bucket holds a token, without taking it.
func (b *buckets) has(key string) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	return b.get(key, now).TokensAt(now) >= 1
}

// take takes a token from key's bucket even when it is empty (it then owes it).
func (b *buckets) take(key string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	b.get(key, now).ReserveN(now, 1)
}

// get returns key's bucket, making it; every so often it forgets the full ones, at a cost
// spread over the calls (a sweep after as many calls as there are buckets).
func (b *buckets) get(key string, now time.Time) *rate.Limiter {
	if b.ops++; b.ops > max(len(b.m), 64) {
		b.sweepLocked(now)
	}
	l := b.m[key]
	if l == nil {
		l = rate.NewLimiter(b.limit, b.burst)
		b.m[key] = l
		b.peak = max(b.peak, len(b.m))
	}
	return l
}

// sweep forgets the full buckets. Calls sweep too, but a gateway whose users have gone
// quiet makes none: without this, a connect storm's buckets (one per user) would stay.
func (b *buckets) sweep() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweepLocked(b.clock())
}

// sweepLocked forgets the full buckets. A map keeps the room it once grew to, so once it
// holds under a quarter of its most what is left moves to a map of its own size.
func (b *buckets) sweepLocked(now time.Time) {
	b.ops = 0
	for k, l := range b.m {
		if l.TokensAt(now) >= float64(b.burst) {
			delete(b.m, k)
		}
	}
	if b.peak >= 1024 && len(b.m) < b.peak/4 {
		m := make(map[string]*rate.Limiter, len(b.m))
		for k, l := range b.m {
			m[k] = l
		}
		b.m, b.peak = m, len(m)
	}
}

// size is how many buckets are remembered.
func (b *buckets) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}
