//go:build unix

package chattest

import "syscall"

// setReadBuffer sets the receive buffer of a socket that is not connected yet, so that the
// window it offers from the start fits the buffer.
func setReadBuffer(c syscall.RawConn, size int) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
	}); cerr != nil {
		return cerr
	}
	return err
}
