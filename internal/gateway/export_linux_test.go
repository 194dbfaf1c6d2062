package gateway

// ParkedReaders is how many connections of the process wait in the poller, no goroutine
// of theirs running.
func ParkedReaders() int {
	p := thePoller
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}
