package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A hijacked connection gets buffers of readBuffer and writeBuffer bytes, not net/http's
// 4 KB ones, and what the client sent right behind its request is still read first.
func TestHijackGivesSmallBuffers(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		nc, brw, err := withSmallBuffers(w, nil).(http.Hijacker).Hijack()
		if err != nil {
			got <- err.Error()
			return
		}
		defer nc.Close()
		if r, w := brw.Reader.Size(), brw.Writer.Size(); r != readBuffer || w != writeBuffer {
			got <- fmt.Sprintf("buffers of %d and %d bytes", r, w)
			return
		}
		b := make([]byte, 5)
		_, err = io.ReadFull(brw, b)
		got <- string(b) + errString(err, -1)
	}))
	defer srv.Close()
	c, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nhello"); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "hello" {
			t.Fatalf("the server read %q, want hello", s)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the handler did not answer")
	}
}

// Through the small buffers and frameWriter, every frame reaches the client whole and in
// order: sizes around the write buffer and each of the header's three length forms, with
// pings and pongs written between them.
func TestSmallBuffersKeepFramesWhole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(withSmallBuffers(w, nil), r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ws.SetReadLimit(2 << 20)
		pinged := make(chan struct{})
		go func() { // pings need the echo loop below to read their pongs
			defer close(pinged)
			for range 20 {
				if ws.Ping(ctx) != nil {
					return
				}
			}
		}()
		for { // echo every frame
			typ, data, err := ws.Read(ctx)
			if err != nil || ws.Write(ctx, typ, data) != nil {
				<-pinged
				return
			}
		}
	}))
	defer srv.Close()
	ws, _, err := websocket.Dial(ctx, "ws"+srv.URL[len("http"):], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(2 << 20)
	for _, size := range []int{0, 1, 100, 122, 123, 124, 125, 126, 127, 128, 129, 130, 200, 4096,
		65535, 65536, 70000, 1 << 20} {
		want := bytes.Repeat([]byte{byte('a' + size%26)}, size)
		if err := ws.Write(ctx, websocket.MessageText, want); err != nil {
			t.Fatalf("write %d bytes: %v", size, err)
		}
		_, got, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("read the echo of %d bytes: %v", size, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("sent %d bytes, got back %d", size, len(got))
		}
	}
	ws.Close(websocket.StatusNormalClosure, "")
}

func TestFrameLen(t *testing.T) {
	for _, c := range []struct {
		p    []byte
		want int
		ok   bool
	}{
		{[]byte{0x81}, 0, false},
		{[]byte{0x81, 5}, 7, true},
		{[]byte{0x81, 0x85}, 11, true}, // masked
		{[]byte{0x81, 126, 1, 0}, 4 + 256, true},
		{[]byte{0x81, 126, 1}, 0, false},
		{[]byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}, 10 + 65536, true},
		{[]byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0}, 0, false},
		{[]byte{0x81, 127, 0, 0, 0, 0, 0x40, 0, 0, 0}, 10 + 1<<30, true},
		// Past what an int holds on 32 bits: not followed, on any platform.
		{[]byte{0x81, 127, 0, 0, 0, 0, 0x80, 0, 0, 0}, 0, false},
		{[]byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 0, false},
	} {
		if n, ok := frameLen(c.p); n != c.want || ok != c.ok {
			t.Errorf("frameLen(% x) = %d, %v; want %d, %v", c.p, n, ok, c.want, c.ok)
		}
	}
}
