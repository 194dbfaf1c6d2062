package gateway

import (
	"bufio"
	"encoding/binary"
	"math"
	"net"
	"net/http"
)

// The buffers a WebSocket keeps for its life. coder/websocket keeps the bufio.Reader and
// bufio.Writer that the upgrade's http.Hijacker returns; net/http's are 4 KB each, 8 KB of
// every idle connection. A client sends small commands (a larger frame is read past the
// buffer, straight into the message), and frameWriter needs only a frame's header in the
// write buffer.
const (
	readBuffer  = 256
	writeBuffer = 128 // at least a control frame: 2 bytes of header, 125 of payload
)

// smallBuffers is a ResponseWriter whose Hijack returns the connection with readBuffer and
// writeBuffer sized buffers instead of net/http's, the read buffer reading through an
// idleReader (idle.go), and hands that reader to got (when not nil), whose owner lets it
// stop short.
type smallBuffers struct {
	http.ResponseWriter
	hj  http.Hijacker
	got func(*idleReader)
}

func (s smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := s.hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// What the client sent after its request is already in net/http's reader: it moves into
	// the new one, which reads the connection after it. It must be in the new buffer, not
	// only behind it: coder/websocket takes what the buffer holds (Peek of Buffered) and
	// resets the reader onto the connection Hijack returned; bytes still behind would be lost (a client
	// that writes at once after the upgrade loses its first frame's first byte).
	pending, _ := brw.Reader.Peek(brw.Reader.Buffered())
	idle := newIdleReader(pending, nc)
	r := bufio.NewReaderSize(idle, max(readBuffer, len(pending)))
	if _, err := r.Peek(len(pending)); err != nil {
		nc.Close()
		return nil, nil, err
	}
	w := bufio.NewWriterSize(&frameWriter{conn: nc}, writeBuffer)
	if s.got != nil {
		s.got(idle)
	}
	return idle, bufio.NewReadWriter(r, w), nil
}

// withSmallBuffers wraps w when it can be hijacked; got (when not nil) receives the
// connection's idleReader.
func withSmallBuffers(w http.ResponseWriter, got func(*idleReader)) http.ResponseWriter {
	if hj, ok := w.(http.Hijacker); ok {
		return smallBuffers{ResponseWriter: w, hj: hj, got: got}
	}
	return w
}

// frameWriter sends each WebSocket frame in one system call although the write buffer in
// front of it is small. coder/websocket writes a frame's header and payload through the
// buffer and flushes it at the frame's end (it never puts two frames in one flush): a frame
// larger than the buffer reaches frameWriter in two writes, the full buffer (the header and
// the payload's start) and the rest. frameWriter reads the frame's length in its header,
// holds the start, and writes both parts together (writev) when the rest comes. Writes are
// serialized by coder/websocket's frame lock, and a frame is written whole within it.
type frameWriter struct {
	conn net.Conn
	held [writeBuffer]byte
	n    int // bytes held: the start of the current frame
	due  int // bytes of the current frame still to come
	// The two parts written together, kept here: built per write, net.Buffers is made
	// on the heap (WriteTo takes its address), one allocation per frame written.
	parts [2][]byte
	bufs  net.Buffers
}

func (w *frameWriter) Write(p []byte) (int, error) {
	if w.due == 0 { // p starts a frame
		total, ok := frameLen(p)
		if ok && total > len(p) && len(p) <= len(w.held) {
			w.n, w.due = copy(w.held[:], p), total-len(p)
			return len(p), nil
		}
		return w.conn.Write(p) // a whole frame, or too little to tell: as it is
	}
	w.parts = [2][]byte{w.held[:w.n], p}
	w.bufs = w.parts[:]
	held := w.n
	w.n, w.due = 0, max(0, w.due-len(p)) // a rest in several parts goes out as it comes
	n, err := w.bufs.WriteTo(w.conn)
	w.parts = [2][]byte{} // p is the caller's
	return max(0, int(n)-held), err
}

// frameLen is the length of the frame that p starts with, header included; false when p is
// too short to tell, or the length is past what an int holds on 32 bits.
func frameLen(p []byte) (int, bool) {
	if len(p) < 2 {
		return 0, false
	}
	header, size := 2, int(p[1]&0x7f)
	switch size {
	case 126:
		if len(p) < 4 {
			return 0, false
		}
		header, size = 4, int(binary.BigEndian.Uint16(p[2:4]))
	case 127:
		if len(p) < 10 {
			return 0, false
		}
		n := binary.BigEndian.Uint64(p[2:10])
		if n > math.MaxInt32-14 { // no frame of ours comes near; and header + size fits an int on 32 bits
			return 0, false
		}
		header, size = 10, int(n)
	}
	if p[1]&0x80 != 0 { // masked (a client's frame; a server never sends one)
		header += 4
	}
	return header + size, true
}
