package gateway_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
)

// BenchmarkFanout: 1,000 WebSocket clients over loopback in 10 rooms on one gateway on
// embedded NATS; publishers post as fast as their acks allow (a window each). One op is one
// command posted; delivered/s counts stored events received by the 1,000 clients, lost
// those that never came (must be 0). "messages" posts only messages; "mixed" makes 1 % of
// the commands reactions and 1 % edits (of the publisher's latest acknowledged message),
// the mix issue 12 asks to cost at most 10 % more. Compare the two within one run:
//
//	go test -run '^$' -bench 'Fanout' -benchtime 100000x -count 3 ./internal/gateway
func BenchmarkFanout(b *testing.B) {
	b.Run("messages", func(b *testing.B) { fanout(b, false) })
	b.Run("mixed", func(b *testing.B) { fanout(b, true) })
}

func fanout(b *testing.B, mixed bool) {
	const clients, rooms, pubsPerRoom, window = 1000, 10, 2, 32
	ns := chattest.NATS(b)
	g := chattest.StartGateway(b, ns, gateway.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var got, others atomic.Int64 // stored events received; of them reactions and edits
	var disorder atomic.Int64
	var wg sync.WaitGroup
	conns := make([]*chatclient.Conn, clients)
	for i := range clients {
		room := fmt.Sprint("room-", i%rooms)
		joined := make(chan struct{})
		var last uint64
		var o chatclient.Object
		c, err := dialLines(ctx, g.URL(), fmt.Sprint("u", i), "s", func(line []byte) {
			if chatclient.Scan(line, &o) != nil || !o.HasID {
				if string(o.Type) == "joined" {
					close(joined)
				}
				return
			}
			if o.ID <= last {
				disorder.Add(1)
			}
			last = o.ID
			switch string(o.Type) {
			case "message":
				got.Add(1)
			case "reaction", "edit":
				got.Add(1)
				others.Add(1)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		conns[i] = c
		if err := c.Send(ctx, map[string]any{"type": "join", "chatroomId": room}); err != nil {
			b.Fatal(err)
		}
		<-joined
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Cut()
		}
	})

	pubs := make([]*chatclient.Conn, rooms*pubsPerRoom)
	acks := make([]chan struct{}, len(pubs))
	acked := make([]atomic.Uint64, len(pubs)) // the id of each publisher's latest acknowledged message
	for i := range pubs {
		acks[i] = make(chan struct{}, window)
		joined := make(chan struct{})
		ackc := acks[i]
		lastAcked := &acked[i]
		var o chatclient.Object
		c, err := dialLines(ctx, g.URL(), fmt.Sprint("pub", i), "s", func(line []byte) {
			chatclient.Scan(line, &o)
			switch string(o.Type) {
			case "joined":
				close(joined)
			case "ack":
				if o.HasID && bytesHasPrefix(line, `{"type":"ack","ref":"m`) {
					lastAcked.Store(o.ID)
				}
				ackc <- struct{}{}
			case "error":
				panic(fmt.Sprintf("publisher: %s", line))
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		pubs[i] = c
		if err := c.Send(ctx, map[string]any{"type": "join", "chatroomId": fmt.Sprint("room-", i%rooms)}); err != nil {
			b.Fatal(err)
		}
		<-joined
	}
	start0 := got.Load() // presence events are not counted; nothing should be here
	b.ResetTimer()
	start := time.Now()
	per := (b.N + len(pubs) - 1) / len(pubs)
	for i, p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			room := fmt.Sprint("room-", i%rooms)
			out := 0
			for k := range per {
				if out == window {
					<-acks[i]
					out--
				}
				target := acked[i].Load()
				var msg string
				switch {
				case mixed && k%100 == 0 && target != 0:
					msg = fmt.Sprintf(`{"type":"react","chatroomId":%q,"id":%d,"emoji":"👍","on":%v,"ref":"r%d"}`, room, target, k%200 == 0, k)
				case mixed && k%100 == 50 && target != 0:
					msg = fmt.Sprintf(`{"type":"edit","chatroomId":%q,"id":%d,"message":"hello again %d","ref":"e%d"}`, room, target, k, k)
				default:
					msg = fmt.Sprintf(`{"type":"message","chatroomId":%q,"message":"hello %d","ref":"m%d"}`, room, k, k)
				}
				if err := p.WS.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					panic(err)
				}
				out++
			}
			for ; out > 0; out-- {
				<-acks[i]
			}
		}()
	}
	wg.Wait()
	want := int64(per*len(pubs)) * (clients / rooms)
	deadline := time.Now().Add(time.Minute)
	for got.Load()-start0 < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polls the condition: everything delivered
	}
	elapsed := time.Since(start)
	b.StopTimer()
	n := got.Load() - start0
	b.ReportMetric(float64(n)/elapsed.Seconds(), "delivered/s")
	b.ReportMetric(float64(want-n), "lost")
	b.ReportMetric(float64(per*len(pubs))/elapsed.Seconds(), "posted/s")
	b.ReportMetric(100*float64(others.Load())/float64(max(n, 1)), "%reactions+edits")
	if sum, cnt := metric(b, g.HTTP(), "chat_publish_seconds_sum"), metric(b, g.HTTP(), "chat_publish_seconds_count"); cnt > 0 {
		b.ReportMetric(sum/cnt*1000, "ms/append")
	}
	if disorder.Load() != 0 || n != want {
		b.Errorf("delivered %d of %d, %d out of order", n, want, disorder.Load())
	}
}

// joinRoom is the room of BenchmarkJoin: joinEvents stored events in a stream that holds
// joinRooms rooms, its events spread over the whole stream.
const (
	joinRoom   = "big"
	joinEvents = 10_000
	joinRooms  = 10_000
)

// BenchmarkJoin measures joining a room with 10,000 stored events (latest 50) in a stream
// of 10,000 rooms: cold (the room is not active on the gateway: its feed starts and the
// reply is read from the stream) and warm (another session keeps the room active).
func BenchmarkJoin(b *testing.B) {
	ns := chattest.NATS(b)
	fill(b, ns)
	g := chattest.StartGateway(b, ns, gateway.Config{})
	b.Run("cold", func(b *testing.B) { benchJoin(b, g) })
	keeper := chattest.Dial(b, g.URL(), "keeper", "k")
	keeper.Expect("welcome")
	keeper.Join(joinRoom)
	b.Run("warm", func(b *testing.B) { benchJoin(b, g) })
}

func benchJoin(b *testing.B, g *chattest.Gateway) {
	c := chattest.Dial(b, g.URL(), "joiner", "j")
	c.Expect("welcome")
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		ref := fmt.Sprint("j", i)
		t0 := time.Now()
		c.Send(map[string]any{"type": "join", "chatroomId": joinRoom, "ref": ref})
		j := c.Until("joined", func(m chattest.Msg) bool { return m.Ref == ref })
		took = append(took, time.Since(t0))
		if len(j.Events) != protocol.DefaultLimit {
			b.Fatalf("joined with %d events", len(j.Events))
		}
		c.Send(map[string]any{"type": "leave", "chatroomId": joinRoom, "ref": "l" + ref})
		c.Until("left", func(m chattest.Msg) bool { return m.Ref == "l"+ref })
		c.Pending()
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "ms-p99")
}

// fill stores joinEvents events of joinRoom interleaved with one event in each of
// joinRooms other rooms, so the room spans the whole stream.
func fill(b *testing.B, ns *server.Server) {
	b.Helper()
	st := storeOf(b, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	jobs := make(chan string)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Go(func() {
			for room := range jobs {
				ev := protocol.Event{ChatroomID: room, Type: protocol.TypeMessage, UserID: "filler", Message: "some stored text", UnixTime: time.Now().Unix()}
				if _, _, err := st.Append(ctx, room, ev.Marshal(), "", nil); err != nil {
					failed.CompareAndSwap(nil, err)
				}
			}
		})
	}
	for i := range max(joinEvents, joinRooms) {
		if i < joinEvents {
			jobs <- joinRoom
		}
		if i < joinRooms {
			jobs <- fmt.Sprint("r", i)
		}
	}
	close(jobs)
	wg.Wait()
	if err := failed.Load(); err != nil {
		b.Fatal(err)
	}
	if info, err := st.Info(ctx, joinRoom); err != nil || info.Count != joinEvents {
		b.Fatalf("%s holds %d events (%v), want %d", joinRoom, info.Count, err, joinEvents)
	}
}

// BenchmarkAppend stores messages straight into the event stream from 20 goroutines over
// 10 rooms, without a gateway: the ceiling of what BenchmarkFanout's publishers can post.
func BenchmarkAppend(b *testing.B) {
	ns := chattest.NATS(b)
	st := storeOf(b, ns)
	var n atomic.Int64
	b.SetParallelism(10)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		room := fmt.Sprint("room-", n.Add(1)%10)
		ev := protocol.Event{ChatroomID: room, Type: protocol.TypeMessage, UserID: "u", Message: "hello", UnixTime: time.Now().Unix()}
		data := ev.Marshal()
		for pb.Next() {
			k := n.Add(1)
			if _, _, err := st.Append(context.Background(), room, data, fmt.Sprint("m:u:s:", k), history.Headers(protocol.TypeMessage, "u", "")); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func bytesHasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}
