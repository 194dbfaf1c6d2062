//go:build !unix

package chattest

import "syscall"

// setReadBuffer does nothing here: DialRaw sets the buffer once connected.
func setReadBuffer(syscall.RawConn, int) error { return nil }
