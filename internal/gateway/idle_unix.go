//go:build linux || darwin || freebsd

package gateway

import (
	"io"
	"syscall"
)

const canIdle = true

// tryRead reads what the socket holds without waiting: errIdle when it holds nothing.
func tryRead(raw syscall.RawConn, p []byte) (n int, err error) {
	var rerr error
	if err := raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			if rerr != syscall.EINTR {
				return true // tried once: never wait here
			}
		}
	}); err != nil {
		return 0, err
	}
	switch {
	case rerr == syscall.EAGAIN:
		return 0, errIdle
	case rerr != nil:
		return 0, rerr
	case n <= 0:
		return 0, io.EOF
	}
	return n, nil
}

// waitReadable returns when the socket has something to read, has ended or failed, or
// was closed. It looks with MSG_PEEK, after the poller was armed (RawConn.Read arms it
// before its first call of the function), so a byte that came before the wait is seen.
func waitReadable(raw syscall.RawConn) {
	var b [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		for {
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EINTR {
				return err != syscall.EAGAIN
			}
		}
	})
}
