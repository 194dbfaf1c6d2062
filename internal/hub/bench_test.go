package hub

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanout delivers events to rooms of sessions whose writers drain their queues
// as a real writer does (everything available at once). One op is one event delivered to
// a room; delivered/s counts the events that reached a session queue's reader.
func BenchmarkFanout(b *testing.B) {
	for _, rooms := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("sessions=1000/rooms=%d", rooms), func(b *testing.B) {
			benchFanout(b, 1000, rooms)
		})
	}
}

// counter is one drainer's count, alone on its cache line.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

type bench struct {
	h      *Hub
	starts chan feedCall
	conns  []*Session
	got    []counter // events received, by session
	sent   []int64   // events delivered, by room
	cuts   atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup
}

func benchFanout(b *testing.B, sessions, rooms int) {
	bn := &bench{starts: make(chan feedCall, rooms), got: make([]counter, sessions),
		sent: make([]int64, rooms), stop: make(chan struct{})}
	bn.h = New(Config{Feeds: startFunc(func(room string, epoch uint64) { bn.starts <- feedCall{room, epoch} })})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bn.h.Run(ctx)
	epochs := bn.setup(b, sessions, rooms)
	for i, s := range bn.conns {
		bn.wg.Go(func() { bn.drain(s, &bn.got[i]) })
	}
	elapsed := bn.publish(b, rooms, epochs)

	close(bn.stop)
	bn.wg.Wait()
	if n := bn.cuts.Load(); n > 0 {
		b.Fatalf("%d sessions cut as slow", n)
	}
	var total int64
	for i := range bn.got {
		total += bn.got[i].n.Load()
	}
	if want := int64(b.N) * int64(sessions/rooms); total != want {
		b.Fatalf("delivered %d events, want %d", total, want)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "delivered/s")
}

// publish delivers b.N events round the rooms and waits until every session read them.
func (bn *bench) publish(b *testing.B, rooms int, epochs []uint64) time.Duration {
	names := make([]string, rooms)
	for r := range names {
		names[r] = roomName(r)
	}
	data := []byte(`{"id":1234567,"chatroomId":"room-42","type":"message","userId":"alice","message":"hello there","unixTime":1795341661}`)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		r := i % rooms
		bn.sent[r]++
		ev := Event{ID: uint64(bn.sent[r]), Frame: &Frame{Data: data}}
		if err := bn.h.Deliver(names[r], epochs[r], []Event{ev}); err != nil {
			b.Fatal(err)
		}
		if i%32 == 31 {
			bn.pace(rooms, 128)
		}
	}
	bn.pace(rooms, 0)
	elapsed := time.Since(start)
	b.StopTimer()
	return elapsed
}

func roomName(r int) string { return fmt.Sprint("room-", r) }

// setup registers the sessions, joins each to its room and takes its joined reply.
// It returns each room's epoch.
func (bn *bench) setup(b *testing.B, sessions, rooms int) []uint64 {
	epochs := make([]uint64, rooms)
	reply := &Frame{Data: []byte(`{"type":"joined"}`)}
	for i := range sessions {
		s := NewSession(fmt.Sprint("u", i), "s", fmt.Sprint("c", i), 0, func() {},
			func(int, string) { bn.cuts.Add(1) })
		bn.conns = append(bn.conns, s)
		if err := bn.h.Register(s); err != nil {
			b.Fatal(err)
		}
		r := i % rooms
		t, err := bn.join(s, roomName(r), &epochs[r])
		if err != nil {
			b.Fatal(err)
		}
		if err := bn.h.Joined(Reply{Session: s, Room: roomName(r), Gen: t.Gen, Reply: reply}); err != nil {
			b.Fatal(err)
		}
		s.Written(Size(s.Take(nil)[0]))
	}
	return epochs
}

// join joins s to room; the room's first join starts its feed, which resets at 0.
func (bn *bench) join(s *Session, room string, epoch *uint64) (Ticket, error) {
	if *epoch != 0 {
		return bn.h.Join(context.Background(), s, room, 0)
	}
	type result struct {
		t   Ticket
		err error
	}
	res := make(chan result, 1)
	go func() { t, err := bn.h.Join(context.Background(), s, room, 0); res <- result{t, err} }()
	started := <-bn.starts
	*epoch = started.epoch
	if err := bn.h.Reset(started.room, started.epoch, 0); err != nil {
		return Ticket{}, err
	}
	r := <-res
	return r.t, r.err
}

// drain reads a session's queue as its writer would, counting the events.
func (bn *bench) drain(s *Session, got *counter) {
	var taken []*Frame
	for {
		select {
		case <-bn.stop:
			return
		default:
		}
		taken = s.Take(taken[:0])
		if len(taken) == 0 {
			runtime.Gosched()
			continue
		}
		n, bytes := 0, 0
		for _, f := range taken {
			n += events(f)
			bytes += len(f.Data)
		}
		s.Written(bytes, 0)
		got.n.Add(int64(n))
	}
}

// pace waits until no session is more than lag events behind its room, as a publisher
// limited by the feed would; it keeps queues from overflowing on a busy machine.
func (bn *bench) pace(rooms, lag int) {
	for i := range bn.got {
		for bn.got[i].n.Load() < bn.sent[i%rooms]-int64(lag) {
			runtime.Gosched()
		}
	}
}

// events counts the events of a frame: a batch holds several, newline-separated.
func events(f *Frame) int {
	n := 1
	for _, c := range f.Data {
		if c == '\n' {
			n++
		}
	}
	return n
}

// startFunc is Feeds that only tells of starts.
type startFunc func(room string, epoch uint64)

func (f startFunc) Start(room string, epoch uint64, _ Sink) { f(room, epoch) }
func (startFunc) Stop(string, uint64)                       {}
