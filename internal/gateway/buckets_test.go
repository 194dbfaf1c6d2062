package gateway

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

func TestBucketsAreSharedByKeyAndForgottenWhenFull(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	b := newBuckets(1, 3)
	b.clock = func() time.Time { return now }
	for i := range 3 {
		if !b.allow("alice") {
			t.Fatalf("alice's call %d refused within the burst", i+1)
		}
	}
	if b.allow("alice") {
		t.Fatal("alice's fourth call allowed: the burst is 3")
	}
	if !b.allow("bob") {
		t.Fatal("bob refused: buckets are per key")
	}
	if b.has("alice") {
		t.Fatal("has(alice) with an empty bucket")
	}
	now = now.Add(time.Second)
	if !b.has("alice") || !b.allow("alice") {
		t.Fatal("alice refused one second later: the rate is 1/s")
	}

	// Owing: take goes below zero, and has waits for the debt to be paid.
	b.take("carol")
	b.take("carol")
	b.take("carol")
	b.take("carol")
	if b.has("carol") {
		t.Fatal("carol has a token after taking 4 of 3")
	}
	now = now.Add(time.Second)
	if b.has("carol") {
		t.Fatal("carol has a token one second after owing one")
	}

	// Once every bucket is full again, calls on other keys forget them: a shard sweeps after
	// as many calls as it has buckets, and 1,000 keys fall in every one of the 16 shards.
	now = now.Add(time.Minute)
	for range 3 {
		for i := range 1000 {
			b.allow("k" + strconv.Itoa(i))
		}
	}
	if n := b.size(); n != 1000 {
		t.Fatalf("%d buckets remembered, want the 1000 keys in use (none of them full)", n)
	}
	for i := range 3 {
		if !b.allow("alice") {
			t.Fatalf("call %d on a forgotten bucket refused: it starts full", i+1)
		}
	}
}

func TestNoBucketsAllowEverything(t *testing.T) {
	var b *buckets = newBuckets(0, 0)
	for range 1000 {
		if !b.allow("x") || !b.has("x") {
			t.Fatal("no limit refused")
		}
	}
	b.take("x")
}

// With no calls to sweep them, full buckets are still forgotten: a connect storm's users
// that then stay quiet leave no bucket each behind. One still short of tokens stays.
func TestQuietBucketsAreForgottenWithoutCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Limits{UserConnectRate: 1, UserConnectBurst: 2, CommandRate: 50}.limiters()
		for i := range 5000 {
			l.userConnects.allow("user-" + strconv.Itoa(i))
			l.commands.allow("user-" + strconv.Itoa(i))
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go l.forgetFull(ctx)
		time.Sleep(bucketSweep - time.Second)
		l.userConnects.take("slow") // owes a token when the sweep comes
		l.userConnects.take("slow")
		l.userConnects.take("slow")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := l.userConnects.size(); n != 1 {
			t.Fatalf("%d connect buckets after the sweep, want only the one still owing", n)
		}
		if n := l.commands.size(); n != 0 {
			t.Fatalf("%d command buckets after the sweep, want none", n)
		}
	})
}

// BenchmarkBucketSweep100k is one sweep of 100,000 buckets none of which is full yet (every
// one is kept), and how long it holds one shard's lock (ms/shard).
func BenchmarkBucketSweep100k(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	bk := newBuckets(1, 2)
	bk.clock = func() time.Time { return now }
	for i := range 100_000 {
		bk.take(strconv.Itoa(i))
	}
	// Every call so far may have swept: start the timed sweeps with all 100,000 kept.
	if n := bk.size(); n != 100_000 {
		b.Fatalf("%d buckets before the sweeps, want 100000", n)
	}
	for b.Loop() {
		bk.sweep()
	}
	// A call waits for one shard's sweep at most.
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*bucketShards)/1e6, "ms/shard")
	if n := bk.size(); n != 100_000 {
		b.Fatalf("%d buckets after the sweeps, want 100000 (none is full)", n)
	}
}
