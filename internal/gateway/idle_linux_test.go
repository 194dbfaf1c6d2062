package gateway

import (
	"net"
	"testing"
	"time"
)

// tcpPair is a loopback TCP connection: the server's end read through an idleReader, and
// the client's end.
func tcpPair(t *testing.T) (*idleReader, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return newIdleReader(nil, server), client
}

// A parked reader wakes when its client sends, and when its connection is closed (closing
// a socket takes it out of the epoll set without an event); a connection closed before its
// first park is never parked (the reader would never wake).
// (A review found the last: a close racing the first park left a parked reader behind.)
func TestParkWakesOnDataAndOnClose(t *testing.T) {
	woken := make(chan string, 1)
	r, client := tcpPair(t)
	if !r.park(func() { woken <- "data" }) {
		t.Fatal("could not park")
	}
	if _, err := client.Write([]byte{0x81}); err != nil {
		t.Fatal(err)
	}
	expectWake(t, woken, "data")

	r, _ = tcpPair(t)
	if !r.park(func() { woken <- "close" }) {
		t.Fatal("could not park")
	}
	r.Close()
	expectWake(t, woken, "close")

	// Close marks the reader closed, then closes the socket; a first park between the two
	// must fail, or the closed socket would leave the set with the reader parked in it.
	r, _ = tcpPair(t)
	r.closing()
	if r.park(func() { woken <- "closed before" }) {
		t.Fatal("parked a closing connection: nothing would wake it")
	}
}

func expectWake(t *testing.T, woken chan string, want string) {
	t.Helper()
	select {
	case got := <-woken:
		if got != want {
			t.Fatalf("woken by %q, want %q", got, want)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("not woken (%s)", want)
	}
}
