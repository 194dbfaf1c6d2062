package history

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

// The benchmark stream: benchRooms rooms of 10 to 100 events each, and the room "big" with
// benchBig events spread evenly among them; built once per test binary run.
const (
	benchRooms = 10_000
	benchBig   = 10_000
)

var bench struct {
	once sync.Once
	dir  string
	ns   *server.Server
	st   *Store
	big  []uint64 // ids of room "big", oldest first
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.ns != nil {
		bench.ns.Shutdown()
		bench.ns.WaitForShutdown()
	}
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// benchStore returns the shared benchmark store, building it on first use.
func benchStore(b *testing.B) *Store {
	b.Helper()
	bench.once.Do(func() { bench.err = buildBench() })
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.st
}

func buildBench() error {
	dir, err := os.MkdirTemp("", "history-bench-")
	if err != nil {
		return err
	}
	bench.dir = dir
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("server not ready")
	}
	bench.ns = ns
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if bench.st, err = Open(ctx, js, Config{}); err != nil {
		return err
	}
	return publishBench(ctx, js, benchOrder())
}

// benchOrder is the room of each event in stream order: -1 for "big".
func benchOrder() []int {
	r := rand.New(rand.NewPCG(7, 7))
	var order []int
	for room := range benchRooms {
		for range 10 + r.IntN(91) {
			order = append(order, room)
		}
	}
	for range benchBig {
		order = append(order, -1)
	}
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

func publishBench(ctx context.Context, js jetstream.JetStream, order []int) error {
	acks := make([]jetstream.PubAckFuture, 0, len(order))
	for i, room := range order {
		name := "big"
		if room >= 0 {
			name = fmt.Sprintf("room-%d", room)
		}
		payload := fmt.Sprintf(`{"chatroomId":%q,"type":"message","userId":"user-%d","message":"hello number %d","unixTime":1795341661}`, name, i%997, i)
		ack, err := js.PublishAsync(subject.Events(name), []byte(payload), jetstream.WithStallWait(time.Minute))
		if err != nil {
			return err
		}
		acks = append(acks, ack)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	for i, ack := range acks {
		select {
		case pa := <-ack.Ok():
			if order[i] < 0 {
				bench.big = append(bench.big, pa.Sequence)
			}
		case err := <-ack.Err():
			return err
		}
	}
	return nil
}

func BenchmarkLatest(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	for _, c := range []struct {
		room  string
		limit int
	}{{"big", 50}, {"big", 1000}, {"room-42", 50}} {
		b.Run(fmt.Sprintf("%s/limit=%d", c.room, c.limit), func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				t0 := time.Now()
				evs, err := st.Latest(ctx, c.room, c.limit, 0)
				took = append(took, time.Since(t0))
				if err != nil || len(evs) == 0 {
					b.Fatal(len(evs), err)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2]), "p50-ns")
			b.ReportMetric(float64(took[len(took)*9/10]), "p90-ns")
		})
	}
}

func BenchmarkBefore(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	before := bench.big[len(bench.big)/2]
	for b.Loop() {
		evs, err := st.Before(ctx, "big", before, 50)
		if err != nil || len(evs) != 50 {
			b.Fatal(len(evs), err)
		}
	}
}

func BenchmarkAfter(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	for _, n := range []int{50, 1000} {
		since := bench.big[len(bench.big)-n-1]
		b.Run(fmt.Sprintf("missing=%d", n), func(b *testing.B) {
			for b.Loop() {
				evs, more, err := st.After(ctx, "big", since, 0, 1000)
				if err != nil || len(evs) != n || more {
					b.Fatal(len(evs), more, err)
				}
			}
		})
	}
}

func BenchmarkInfo(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := st.Info(ctx, "big"); err != nil {
			b.Fatal(err)
		}
	}
}
