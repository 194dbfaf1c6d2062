package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/coder/websocket"
)

// benchFrame is a gateway frame of n message events of room load-0 from
// publisher 0, seqs from seq0, in the shape the gateway sends.
func benchFrame(run string, n int, seq0, id0 uint64, size int) []byte {
	var b bytes.Buffer
	now := time.Now()
	for i := range n {
		msg := appendBody(nil, run, body{pub: 0, seq: seq0 + uint64(i), sent: now}, size)
		fmt.Fprintf(&b, `{"id":%d,"chatroomId":"load-0","type":"message","userId":"load-0","message":"%s","unixTime":1795341661}`+"\n",
			id0+uint64(i), msg)
	}
	return b.Bytes()
}

// BenchmarkHandleFrame is a receiver's cost per event once a frame is read:
// split, decode, id and sequence checks, latency histogram. Reported per event.
func BenchmarkHandleFrame(b *testing.B) {
	cfg := Config{URLs: []string{"ws://x/ws"}, Publishers: 1, RunID: "bench1"}.withDefaults()
	r := newRunner(cfg, io.Discard)
	c := r.clients[0]
	const perFrame = 60
	frames := make([][]byte, 1000)
	for i := range frames {
		frames[i] = benchFrame(cfg.RunID, perFrame, uint64(i*perFrame+1), uint64(i*perFrame+1), 100)
	}
	fresh := chatclient.RoomCheck{Name: "load-0", Member: chatclient.In, Joined: true} // as after its joined reply
	c.rooms[0].check = fresh
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%len(frames) == 0 { // start the sequence over in a fresh room state
			c.rooms[0].check, c.rooms[0].tracks = fresh, map[int]*track{}
		}
		c.handleFrame(frames[i%len(frames)], time.Now())
	}
	b.StopTimer()
	if c.stats.duplicated.Load()+c.stats.late.Load()+c.stats.idBackward.Load() != 0 {
		b.Fatal("faults counted on a clean stream")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perFrame), "ns/event")
}

// BenchmarkReceive measures how many events per second 1,000 chatload clients
// absorb over loopback WebSockets from a server that does nothing but write
// pre-encoded frames of 60 events (as a batching gateway would): the
// receiving side must not be what limits a load test. b.N is events in all.
func BenchmarkReceive(b *testing.B) {
	const clients, perFrame = 1000, 60
	cfg := Config{URLs: []string{"ws://placeholder/ws"}, Clients: clients, Idle: true, RunID: "blast1", Progress: -1}.withDefaults()
	framesPerConn := max(1, b.N/clients/perFrame)
	frames := make([][]byte, framesPerConn)
	for i := range frames {
		frames[i] = benchFrame(cfg.RunID, perFrame, uint64(i*perFrame+1), uint64(i*perFrame+1), 100)
	}
	start := make(chan struct{})
	srv := newBlaster(b, frames, start)
	cfg.URLs = []string{srv}
	r := newRunner(cfg, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range r.clients {
		wg.Go(func() { c.run(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()
	r.ready.Wait()
	want := uint64(clients * framesPerConn * perFrame)
	b.ResetTimer()
	close(start)
	for sumClients(r.clients).delivered < want {
		time.Sleep(5 * time.Millisecond) // polling a condition
	}
	b.StopTimer()
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "events/s")
}

// newBlaster serves WebSockets that answer each join with an empty joined,
// then, once start is closed, write frames in order.
func newBlaster(b *testing.B, frames [][]byte, start chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		_, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var join struct{ ChatroomID, Ref string }
		json.Unmarshal(data, &join)
		reply := fmt.Sprintf(`{"type":"joined","ref":%q,"chatroomId":%q,"recovered":true,"events":[]}`, join.Ref, join.ChatroomID)
		conn.Write(ctx, websocket.MessageText, []byte(reply))
		<-start
		for _, f := range frames {
			if conn.Write(ctx, websocket.MessageText, f) != nil {
				return
			}
		}
		conn.Read(ctx) // until the client closes
	}))
	b.Cleanup(srv.Close)
	return "ws" + srv.URL[len("http"):] + "/ws"
}
