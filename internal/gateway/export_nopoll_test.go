//go:build !linux

package gateway

// ParkedReaders is 0 where there is no poller.
func ParkedReaders() int { return 0 }
