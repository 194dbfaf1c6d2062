package gateway

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

// An idle connection's reader does not wait inside coder/websocket's Read: parked there, a
// goroutine's stack holds 4.3 KB of frames (Read, the frame header's reader, bufio, the
// poller), which the runtime rounds up to an 8 KB stack, the largest part of what an idle
// connection costs. Instead the connection is read through an idleReader: when the client
// has sent nothing more and every byte read so far ends a whole message, Read returns
// errIdle at once rather than wait. coder/websocket reads the connection that the upgrade's
// Hijack returned (behind what the buffer held then), so the idleReader is that connection.
// coder/websocket passes that error back from its Read
// without touching the connection (nothing of a frame was consumed), and the reader's
// goroutine ends. On Linux the socket then waits in an epoll set of the process's
// (idle_linux.go), and the poller starts a reader when the client sends something: an idle
// connection has no goroutine at all. Elsewhere, or when parking fails, the reader waits
// for the client's next byte on a goroutine of its own, a few hundred bytes deep
// (conn.waitForFrame).
//
// The reader allows this only around its own Read (idleReader.may), and never once the
// gateway has begun to close the connection (idleReader.ending, conn.closeWS):
// coder/websocket also reads on its own when it closes (it waits for the peer's close
// frame), and that read must wait as before.

// errIdle is what idleReader.Read returns instead of waiting.
var errIdle = errors.New("gateway: the client sent nothing more")

// idleReader is the connection under a WebSocket, read first for what net/http had read
// past the upgrade request. Read is called by whoever holds coder/websocket's read lock,
// one at a time; only may is touched by others.
type idleReader struct {
	net.Conn
	parking // where the platform has a poller (idle_linux.go)
	pending []byte
	raw     syscall.RawConn // nil when the connection cannot be read without waiting (TLS, or not a socket)
	may     atomic.Bool     // Read may return errIdle
	ending  atomic.Bool     // the connection is being closed: Read waits from now on
	frames  frameTracker
}

func newIdleReader(pending []byte, conn net.Conn) *idleReader {
	r := &idleReader{Conn: conn, pending: append([]byte(nil), pending...)}
	if sc, ok := conn.(syscall.Conn); ok && canIdle {
		if raw, err := sc.SyscallConn(); err == nil {
			r.raw = raw
		}
	}
	return r
}

func (r *idleReader) Read(p []byte) (n int, err error) {
	switch {
	case len(r.pending) > 0:
		n = copy(p, r.pending)
		if r.pending = r.pending[n:]; len(r.pending) == 0 {
			r.pending = nil
		}
	case r.raw != nil && r.may.Load() && !r.ending.Load() && r.frames.between():
		n, err = tryRead(r.raw, p)
	default:
		n, err = r.Conn.Read(p)
	}
	r.frames.feed(p[:n])
	return n, err
}

// Close wakes a parked reader before it closes the connection (see closing).
func (r *idleReader) Close() error {
	r.closing()
	return r.Conn.Close()
}

// canStop reports whether Read may ever return errIdle for this connection.
func (r *idleReader) canStop() bool { return r.raw != nil }

// waitForData returns when the client has sent something, or the connection ended (then
// the next Read tells why).
func (r *idleReader) waitForData() { waitReadable(r.raw) }

// frameTracker follows the client's frames through the bytes read, to tell when they are
// whole frames that end a message: the only place a read may stop short.
type frameTracker struct {
	head  [14]byte // the header of the frame being read, as far as read
	hn    int
	left  int  // payload bytes of the current frame not yet read
	inMsg bool // the last data frame had no FIN: its message goes on
	lost  bool // a header this tracker cannot follow: never stop again
}

func (t *frameTracker) between() bool { return t.hn == 0 && t.left == 0 && !t.inMsg && !t.lost }

func (t *frameTracker) feed(b []byte) {
	for len(b) > 0 && !t.lost {
		if t.left > 0 {
			n := min(t.left, len(b))
			t.left -= n
			b = b[n:]
			continue
		}
		t.head[t.hn] = b[0]
		t.hn++
		b = b[1:]
		total, ok := frameLen(t.head[:t.hn])
		switch {
		case ok:
			if op := t.head[0] & 0x0f; op < 0x8 { // continuation, text or binary
				t.inMsg = t.head[0]&0x80 == 0
			}
			t.left, t.hn = total-t.hn, 0
		case t.hn == len(t.head): // a frame past frameLen's bound: coder/websocket refuses it
			t.lost = true
		}
	}
}
