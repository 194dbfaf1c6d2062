//go:build !(linux || darwin || freebsd)

package gateway

import "syscall"

// Elsewhere an idle reader waits inside coder/websocket's Read, as it did before idle.go.
const canIdle = false

func tryRead(syscall.RawConn, []byte) (int, error) { panic("gateway: tryRead without canIdle") }

func waitReadable(syscall.RawConn) {}
