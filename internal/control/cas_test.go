package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/natstest"
	"github.com/nats-io/nats.go/jetstream"
)

func TestIsConflict(t *testing.T) {
	for name, err := range map[string]error{
		"single node (10071)": &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence},
		"replicated (10164)":  &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant},
		"revision mismatch":   fmt.Errorf("update: %w", jetstream.ErrKeyRevisionMismatch),
		"key exists":          fmt.Errorf("create: %w", jetstream.ErrKeyExists),
	} {
		if !isConflict(err) {
			t.Errorf("%s: %v is not a conflict", name, err)
		}
	}
	if isConflict(errors.New("nats: timeout")) || isConflict(nil) {
		t.Error("a timeout or nil is a conflict")
	}
}

// laggingKV answers Get with what a replica that has not applied the latest writes would:
// the entry saved in stale, whatever was written since. Writes go through.
type laggingKV struct {
	jetstream.KeyValue
	stale jetstream.KeyValueEntry
	gets  int
}

func (kv *laggingKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	kv.gets++
	return kv.stale, nil
}

type casRecord struct {
	Conn string
	N    int
}

// casBucket makes the bucket "cas" on a fresh single-node JetStream.
func casBucket(t *testing.T) (jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	js := natstest.JetStream(t, natstest.Server(t, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cas"})
	if err != nil {
		t.Fatal(err)
	}
	return js, kv
}

// lagging returns a bucket on a fresh single-node JetStream whose key "k" holds first, and
// whose direct reads keep answering with that value after later writes.
func lagging(t *testing.T, first casRecord) (bucket, *laggingKV) {
	t.Helper()
	js, kv := casBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, _ := json.Marshal(first)
	if _, err := kv.Create(ctx, "k", b); err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	lkv := &laggingKV{KeyValue: kv, stale: e}
	return bucket{kv: lkv, nc: js.Conn()}, lkv
}

// A write based on a lagging read loses its compare-and-set; the update reads again from
// the leader and succeeds, however long the replica lags, instead of losing every try.
func TestUpdateAfterALaggingReadReadsTheLeader(t *testing.T) {
	b, lkv := lagging(t, casRecord{Conn: "a", N: 1})
	ctx := context.Background()
	if err := b.kv.(*laggingKV).KeyValue.Delete(ctx, "k"); err != nil { // not seen by the lagging reads
		t.Fatal(err)
	}
	if _, err := update(ctx, b, "k", func(cur *casRecord) (*casRecord, error) {
		return &casRecord{Conn: "a", N: 2}, nil
	}); err != nil {
		t.Fatal(err)
	}
	var seen []int
	_, err := update(ctx, b, "k", func(cur *casRecord) (*casRecord, error) {
		if cur == nil {
			seen = append(seen, 0)
			return &casRecord{Conn: "a", N: 1}, nil
		}
		seen = append(seen, cur.N)
		return &casRecord{Conn: cur.Conn, N: cur.N + 1}, nil
	})
	if err != nil {
		t.Fatalf("update: %v (change saw %v)", err, seen)
	}
	if want := []int{1, 2}; !slices.Equal(seen, want) {
		t.Errorf("change saw N %v, want %v: the lagging copy, then the leader's", seen, want)
	}
	if lkv.gets != 2 {
		t.Errorf("%d direct reads, want 2 (one for each update)", lkv.gets)
	}
	cur, _, err := getLeader[casRecord](ctx, b, "k")
	if err != nil || cur == nil || cur.N != 3 {
		t.Errorf("stored %+v, %v; want N 3", cur, err)
	}
}

// A decision not to write, taken on a lagging read, is taken again on the leader's value:
// a connection that took a session over is not told that it was replaced because a
// replica still shows the connection before it.
func TestUpdateDecidesAgainOnTheLeader(t *testing.T) {
	b, _ := lagging(t, casRecord{Conn: "old"})
	ctx := context.Background()
	if _, err := update(ctx, b, "k", func(cur *casRecord) (*casRecord, error) {
		return &casRecord{Conn: "new"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	_, err := update(ctx, b, "k", func(cur *casRecord) (*casRecord, error) {
		seen = append(seen, cur.Conn)
		if cur.Conn != "new" {
			return nil, ErrReplaced
		}
		return &casRecord{Conn: "new", N: 1}, nil
	})
	if err != nil {
		t.Fatalf("update: %v (change saw %v)", err, seen)
	}
	if want := []string{"old", "new"}; !slices.Equal(seen, want) {
		t.Errorf("change saw %v, want %v", seen, want)
	}
	// A decision the leader's value confirms stands.
	_, err = update(ctx, b, "k", func(cur *casRecord) (*casRecord, error) { return nil, errSkip })
	if !errors.Is(err, errSkip) {
		t.Errorf("update: %v, want errSkip", err)
	}
}

// Writers that really come in between every read and write exhaust the tries: ErrContended.
func TestUpdateContended(t *testing.T) {
	b, _ := lagging(t, casRecord{Conn: "a"})
	ctx := context.Background()
	n := 0
	_, err := update(ctx, b, "k", func(cur *casRecord) (*casRecord, error) {
		n++
		// Another writer gets there first, every time.
		rival, _ := json.Marshal(casRecord{Conn: "rival", N: n})
		if _, err := b.kv.(*laggingKV).KeyValue.Put(ctx, "k", rival); err != nil {
			t.Fatal(err)
		}
		return &casRecord{Conn: "a", N: -1}, nil
	})
	if !errors.Is(err, ErrContended) {
		t.Fatalf("update: %v, want ErrContended", err)
	}
	if n != casTries {
		t.Errorf("change called %d times, want %d", n, casTries)
	}
}

// countingKV counts the direct reads of a real bucket.
type countingKV struct {
	jetstream.KeyValue
	gets int
}

func (kv *countingKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	kv.gets++
	return kv.KeyValue.Get(ctx, key)
}

// An update of a key this bucket wrote last tries its compare-and-set on what it wrote,
// without a read; when another writer wrote the key since, that try loses and the update
// reads the leader and applies the change to the other writer's value, which is not lost.
func TestUpdateTriesOurOwnLastWriteFirst(t *testing.T) {
	js, kv := casBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ckv := &countingKV{KeyValue: kv}
	b := bucket{kv: ckv, nc: js.Conn(), recent: newRecent()}
	inc := func(cur *casRecord) (*casRecord, error) {
		if cur == nil {
			return &casRecord{Conn: "a", N: 1}, nil
		}
		return &casRecord{Conn: cur.Conn, N: cur.N + 1}, nil
	}
	for range 3 {
		if _, err := update(ctx, b, "k", inc); err != nil {
			t.Fatal(err)
		}
	}
	if ckv.gets != 1 {
		t.Errorf("%d reads for three updates, want 1 (the first: nothing remembered yet)", ckv.gets)
	}
	// Another writer (a second gateway: its own bucket and memory).
	other := bucket{kv: kv, nc: js.Conn(), recent: newRecent()}
	if _, err := update(ctx, other, "k", func(cur *casRecord) (*casRecord, error) {
		return &casRecord{Conn: "b", N: cur.N + 10}, nil
	}); err != nil {
		t.Fatal(err)
	}
	var seen []casRecord
	if _, err := update(ctx, b, "k", func(cur *casRecord) (*casRecord, error) {
		seen = append(seen, *cur)
		return inc(cur)
	}); err != nil {
		t.Fatal(err)
	}
	if want := []casRecord{{"a", 3}, {"b", 13}}; !slices.Equal(seen, want) {
		t.Errorf("change saw %v, want %v: our last write, then the leader's value", seen, want)
	}
	if cur, _, err := getLeader[casRecord](ctx, b, "k"); err != nil || cur == nil || *cur != (casRecord{"b", 14}) {
		t.Errorf("stored %+v, %v; want {b 14}", cur, err)
	}
	// A delete is not remembered: the key is read again.
	if _, err := update(ctx, b, "k", func(*casRecord) (*casRecord, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	gets := ckv.gets
	if got, err := update(ctx, b, "k", inc); err != nil || got != nil {
		t.Fatalf("update after the delete saw %+v, %v; want nothing", got, err)
	}
	if ckv.gets != gets+1 {
		t.Errorf("%d reads for the update after a delete, want 1", ckv.gets-gets)
	}
}
