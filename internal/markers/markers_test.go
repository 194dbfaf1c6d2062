package markers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/natstest"
	"github.com/chathub/chathub/internal/subject"
)

func open(t *testing.T) *Store {
	t.Helper()
	ns := natstest.Server(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, natstest.JetStream(t, ns), 1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAdvanceOnlyForward races many moves of one marker: it ends at the highest, every
// answer is at least what was asked, and the watch sees the marker only grow.
func TestAdvanceOnlyForward(t *testing.T) {
	s := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var seen []uint64
	probed := false
	watching := make(chan struct{})
	wctx, stop := context.WithCancel(ctx)
	w, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(watching)
		w.Run(wctx, func(user, room, conn string, id uint64) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case user == "alice" && room == "lobby":
				seen = append(seen, id)
			case room == "probe":
				probed = true
			}
		})
	}()
	// The watch sees moves made after it starts: move a probe until it is heard.
	for i := uint64(1); ; i++ {
		if _, _, err := s.Advance(ctx, "alice", "probe", "c", i); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		ok := probed
		mu.Unlock()
		if ok {
			break
		}
		if i > 500 {
			t.Fatal("the watch never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var wg sync.WaitGroup
	for i := 1; i <= 40; i++ {
		wg.Go(func() {
			at, _, err := s.Advance(ctx, "alice", "lobby", fmt.Sprint("c", i), uint64(i))
			if err != nil || at < uint64(i) {
				t.Errorf("Advance(%d) = %d, %v", i, at, err)
			}
		})
	}
	wg.Wait()
	if at, err := s.Get(ctx, "alice", "lobby"); err != nil || at != 40 {
		t.Fatalf("marker %d %v, want 40", at, err)
	}
	if at, moved, err := s.Advance(ctx, "alice", "lobby", "c", 7); err != nil || moved || at != 40 {
		t.Fatalf("moving back: %d %v %v", at, moved, err)
	}
	marks, err := s.Of(ctx, "alice")
	if err != nil || marks["lobby"] != 40 || len(marks) != 2 {
		t.Fatalf("Of = %v %v", marks, err)
	}
	if marks, err := s.Of(ctx, "nobody"); err != nil || len(marks) != 0 {
		t.Fatalf("Of(nobody) = %v %v", marks, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		got := append([]uint64(nil), seen...)
		mu.Unlock()
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("the watch saw the marker go from %d to %d", got[i-1], got[i])
			}
		}
		if len(got) > 0 && got[len(got)-1] == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watch saw %v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-watching
}

// TestOfWithNoStreamIsAnOutage reads a user's markers while the bucket's stream cannot
// answer (deleted here; after a whole cluster restarts, until its stream has a leader
// again): the server's "no responders" status is an outage, which the gateway answers with
// unavailable (retry), not an internal error. (A CI run saw rooms fail so after every NATS
// node had restarted.)
func TestOfWithNoStreamIsAnOutage(t *testing.T) {
	ns := natstest.Server(t, t.TempDir())
	js := natstest.JetStream(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Advance(ctx, "alice", "lobby", "c", 3); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Of(ctx, "alice"); err != nil || got["lobby"] != 3 {
		t.Fatalf("Of: %v, %v; want lobby at 3", got, err)
	}
	if err := js.DeleteKeyValue(ctx, subject.MarkersBucket); err != nil {
		t.Fatal(err)
	}
	got, err := s.Of(ctx, "alice")
	if !history.IsOutage(err) {
		t.Fatalf("Of with the bucket gone: %v, %v; want an outage", got, err)
	}
}
