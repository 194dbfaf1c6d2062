package history

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/natstest"
	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/retry"
)

// TestClusterReadsSeeAcknowledgedAppends appends events through one node of a three-node
// cluster (R3 stream) and reads them at once through the others, as a gateway does: a join
// reads the room up to the event its presence change just stored, a feed reads up to the
// event a live message names as the room's previous one. Every read must see the event
// whose append was acknowledged, though direct gets are answered by replicas that may not
// have applied it yet.
func TestClusterReadsSeeAcknowledgedAppends(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	nodes := natstest.Cluster(t, 3)
	stores := make([]*Store, len(nodes))
	for i, ns := range nodes {
		js := connect(t, ns)
		// As the gateway's start does (retry.Start): on a cluster just formed, a request to
		// create the stream can go unanswered while a later one succeeds at once.
		err := retry.Do(ctx, retry.Start, IsOutage, func(ctx context.Context) (err error) {
			stores[i], err = Open(ctx, js, Config{Replicas: 3})
			return err
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	// A new replicated stream takes publishes once its leader is elected (until then, "no
	// response from stream", as CI once saw), and replicas answer direct gets once they
	// have caught up with it: wait for both.
	var warm uint64
	var warmErr error
	if poll.Until(ctx, 50*time.Millisecond, func() bool {
		warm, _, warmErr = stores[0].Append(ctx, "warm", []byte(`{}`), "", nil)
		return warmErr == nil
	}) != nil {
		t.Fatal(warmErr)
	}
	for _, st := range stores {
		var got int
		if poll.Until(ctx, 10*time.Millisecond, func() bool {
			var evs []Stored
			evs, _, warmErr = st.After(ctx, "warm", 0, warm, 1)
			got = len(evs)
			return warmErr == nil && got == 1
		}) != nil {
			t.Fatalf("direct gets never answered: %d events, %v", got, warmErr)
		}
	}
	const appends = 200
	var mu sync.Mutex
	var stale []string
	for i := range appends {
		room := fmt.Sprintf("r%d", i%4)
		id, _, err := stores[i%3].Append(ctx, room, fmt.Appendf(nil, `{"n":%d}`, i), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, r := range []*Store{stores[(i+1)%3], stores[(i+2)%3]} {
			wg.Go(func() {
				last, err := r.LastID(ctx, room)
				if err == nil && last != id {
					err = fmt.Errorf("LastID(%s) = %d after appending %d", room, last, id)
				}
				if err != nil {
					mu.Lock()
					stale = append(stale, err.Error())
					mu.Unlock()
				}
			})
			wg.Go(func() {
				evs, _, err := r.After(ctx, room, 0, id, 1000)
				if err == nil && (len(evs) == 0 || evs[len(evs)-1].ID != id) {
					err = fmt.Errorf("After(%s, 0, %d) ends at %v", room, id, ids(evs))
				}
				if err != nil {
					mu.Lock()
					stale = append(stale, err.Error())
					mu.Unlock()
				}
			})
			wg.Go(func() {
				evs, err := r.Latest(ctx, room, 3, id)
				if err == nil && (len(evs) == 0 || evs[len(evs)-1].ID != id) {
					err = fmt.Errorf("Latest(%s, 3, %d) = %v", room, id, ids(evs))
				}
				if err != nil {
					mu.Lock()
					stale = append(stale, err.Error())
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	if len(stale) > 0 {
		t.Errorf("%d of %d reads missed an acknowledged event, e.g.:", len(stale), appends*6)
		for _, s := range stale[:min(len(stale), 10)] {
			t.Error(s)
		}
	}
}

func ids(evs []Stored) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}
