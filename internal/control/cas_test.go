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

// lagging returns a bucket on a fresh single-node JetStream whose key "k" holds first, and
// whose direct reads keep answering with that value after later writes.
func lagging(t *testing.T, first casRecord) (bucket, *laggingKV) {
	t.Helper()
	js := natstest.JetStream(t, natstest.Server(t, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "cas"})
	if err != nil {
		t.Fatal(err)
	}
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
