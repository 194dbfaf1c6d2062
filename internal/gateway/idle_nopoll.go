//go:build !linux

package gateway

// Without epoll a waiting reader keeps its goroutine (conn.waitForFrame).
type parking struct{}

func (r *idleReader) park(func()) bool { return false }

func (r *idleReader) closing() {}
