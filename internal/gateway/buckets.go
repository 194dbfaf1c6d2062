package gateway

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// buckets are token buckets by key (a user, a client address), shared by every connection
// of that key on this gateway, so that reconnecting does not refill them. A bucket that is
// full again is forgotten (a new one would be the same), so memory follows the keys active
// within one refill time. A nil *buckets allows everything.
//
// The keys are spread over bucketShards maps, each with its own lock: a sweep walks one
// shard at a time, so that with 100,000 keys a call waits for one shard's part of it (about
// a sixteenth, 1 ms on average here: BenchmarkBucketSweep100k), not for the whole sweep;
// calls for keys in different shards do not wait for each other.
type buckets struct {
	limit  rate.Limit
	burst  int
	seed   maphash.Seed
	shards [bucketShards]bucketShard
	clock  func() time.Time
}

const bucketShards = 16

// bucketShard is one shard's buckets.
type bucketShard struct {
	mu   sync.Mutex // guards the fields below
	m    map[string]*rate.Limiter
	ops  int // calls since the last sweep
	peak int // the most buckets m has held since it was made
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
	b := &buckets{limit: rate.Limit(r), burst: burst, seed: maphash.MakeSeed(), clock: time.Now}
	for i := range b.shards {
		b.shards[i].m = make(map[string]*rate.Limiter)
	}
	return b
}

// shard locks key's shard and returns it with the time to use.
func (b *buckets) shard(key string) (*bucketShard, time.Time) {
	s := &b.shards[maphash.String(b.seed, key)%bucketShards]
	s.mu.Lock()
	return s, b.clock()
}

// allow takes a token from key's bucket, reporting whether there was one.
func (b *buckets) allow(key string) bool {
	if b == nil {
		return true
	}
	s, now := b.shard(key)
	defer s.mu.Unlock()
	return b.get(s, key, now).AllowN(now, 1)
}

// has reports whether key's bucket holds a token, without taking it.
func (b *buckets) has(key string) bool {
	if b == nil {
		return true
	}
	s, now := b.shard(key)
	defer s.mu.Unlock()
	return b.get(s, key, now).TokensAt(now) >= 1
}

// take takes a token from key's bucket even when it is empty (it then owes it).
func (b *buckets) take(key string) {
	if b == nil {
		return
	}
	s, now := b.shard(key)
	defer s.mu.Unlock()
	b.get(s, key, now).ReserveN(now, 1)
}

// get returns key's bucket in s (locked), making it; every so often it forgets the shard's
// full ones, at a cost spread over the calls (a sweep after as many calls as it has
// buckets).
func (b *buckets) get(s *bucketShard, key string, now time.Time) *rate.Limiter {
	if s.ops++; s.ops > max(len(s.m), 64) {
		b.sweepLocked(s, now)
	}
	l := s.m[key]
	if l == nil {
		l = rate.NewLimiter(b.limit, b.burst)
		s.m[key] = l
		s.peak = max(s.peak, len(s.m))
	}
	return l
}

// sweep forgets the full buckets, a shard at a time. Calls sweep too, but a gateway whose
// users have gone quiet makes none: without this, a connect storm's buckets (one per user)
// would stay.
func (b *buckets) sweep() {
	if b == nil {
		return
	}
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		b.sweepLocked(s, b.clock())
		s.mu.Unlock()
	}
}

// sweepLocked forgets the full buckets of s. A map keeps the room it once grew to, so once
// it holds under a quarter of its most what is left moves to a map of its own size.
func (b *buckets) sweepLocked(s *bucketShard, now time.Time) {
	s.ops = 0
	for k, l := range s.m {
		if l.TokensAt(now) >= float64(b.burst) {
			delete(s.m, k)
		}
	}
	if s.peak >= 64 && len(s.m) < s.peak/4 {
		m := make(map[string]*rate.Limiter, len(s.m))
		for k, l := range s.m {
			m[k] = l
		}
		s.m, s.peak = m, len(m)
	}
}

// size is how many buckets are remembered.
func (b *buckets) size() int {
	n := 0
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
