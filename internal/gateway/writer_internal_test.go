package gateway

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/hub"
)

// A batch fits the pool's buffer, whatever the frames: it is gathered without allocating,
// so every buffer goes back to the pool as it came. And the batch is the frames' objects
// one per line, up to batchBytes.
func TestCollectFitsThePoolsBuffer(t *testing.T) {
	for _, size := range []int{10, 100, 1000, largeFrame - 1} {
		obj := `{"type":"message","message":"` + strings.Repeat("m", size) + `"}`
		obj = obj[:min(len(obj), largeFrame-1)]
		taken := make([]*hub.Frame, 2*batchBytes/len(obj)+2)
		for i := range taken {
			taken[i] = &hub.Frame{Data: []byte(obj)}
		}
		buf := *batchPool.Get().(*[]byte)
		var data []byte
		var n int
		allocs := testing.AllocsPerRun(20, func() { data, n, _, _, _ = collect(buf, taken) })
		if allocs != 0 {
			t.Errorf("objects of %d bytes: collect allocated %v times", len(obj), allocs)
		}
		if &data[:1][0] != &buf[:1][0] {
			t.Errorf("objects of %d bytes: the batch is not in the pool's buffer", len(obj))
		}
		if want := strings.Repeat(obj+"\n", n-1) + obj; string(data) != want {
			t.Errorf("objects of %d bytes: the batch of %d frames is not their objects one per line", len(obj), n)
		}
		if len(data) < batchBytes || len(data) >= batchBytes+len(obj)+1 {
			t.Errorf("objects of %d bytes: batch of %d bytes, want just past %d", len(obj), len(data), batchBytes)
		}
	}
}

// frameWriter sends a frame that came in two writes with one system call and allocates
// nothing for it.
func TestFrameWriterAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	received := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		received <- n
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	payload := 200
	frame := append([]byte{0x81, 126, 0, byte(payload)}, bytes.Repeat([]byte("x"), payload)...)
	start, rest := frame[:writeBuffer], frame[writeBuffer:] // as bufio hands them over
	w := &frameWriter{conn: conn}
	runs := 0
	allocs := testing.AllocsPerRun(100, func() {
		runs++
		if n, err := w.Write(start); n != len(start) || err != nil {
			t.Fatalf("start: %d, %v", n, err)
		}
		if n, err := w.Write(rest); n != len(rest) || err != nil {
			t.Fatalf("rest: %d, %v", n, err)
		}
	})
	conn.Close()
	if allocs != 0 {
		t.Errorf("a frame in two writes cost %v allocations", allocs)
	}
	if got, want := <-received, int64(runs*len(frame)); got != want {
		t.Errorf("the peer received %d bytes, want %d", got, want)
	}
}
