package main

import (
	"strconv"
	"time"
)

// A message body is "<run> p<publisher> <seq> <unix-nanos> xxxx...", padded
// with 'x' to the configured size. The run id keeps the messages of other
// runs, still in a room's history, out of the accounting.
type body struct {
	pub  int
	seq  uint64
	sent time.Time
}

// appendBody appends the body of one message to dst.
func appendBody(dst []byte, run string, b body, size int) []byte {
	start := len(dst)
	dst = append(dst, run...)
	dst = append(dst, " p"...)
	dst = strconv.AppendInt(dst, int64(b.pub), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, b.seq, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, b.sent.UnixNano(), 10)
	if pad := size - (len(dst) - start); pad > 0 {
		dst = append(dst, ' ')
		for range pad - 1 {
			dst = append(dst, 'x')
		}
	}
	return dst
}

// parseBody reads a body of run from msg without allocating. ok is false for
// anything else (another run's or a person's message).
func parseBody(msg []byte, run string) (b body, ok bool) {
	if len(msg) < len(run)+2 || string(msg[:len(run)]) != run || msg[len(run)] != ' ' || msg[len(run)+1] != 'p' {
		return body{}, false
	}
	rest := msg[len(run)+2:]
	pub, rest, ok1 := nextUint(rest)
	seq, rest, ok2 := nextUint(rest)
	ns, _, ok3 := nextUint(rest)
	if !ok1 || !ok2 || !ok3 {
		return body{}, false
	}
	return body{pub: int(pub), seq: seq, sent: time.Unix(0, int64(ns))}, true
}

// nextUint parses the decimal number at the start of b, up to a space or the
// end, and returns what follows the space.
func nextUint(b []byte) (uint64, []byte, bool) {
	var n uint64
	i := 0
	for ; i < len(b) && b[i] != ' '; i++ {
		c := b[i]
		if c < '0' || c > '9' || i >= 19 {
			return 0, nil, false
		}
		n = n*10 + uint64(c-'0')
	}
	if i == 0 {
		return 0, nil, false
	}
	if i < len(b) {
		i++
	}
	return n, b[i:], true
}
