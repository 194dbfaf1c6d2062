//go:build linux

package gateway

import (
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// poller holds the idle connections of the process in an epoll set of its own, so that an
// idle connection has no goroutine at all: when its client sends something (or goes), the
// poller starts one to read. Go's own poller also watches each of these sockets
// (edge-triggered, for the reads that do run); a socket may be in both sets.
//
// A connection is armed one shot at a time (EPOLLONESHOT): it wakes once per park. Closing
// a socket takes it out of the set without an event, so idleReader.Close wakes a parked
// reader itself before it closes (the reader then finds the connection closed).
type poller struct {
	epfd   int
	mu     sync.Mutex
	parked map[uint64]*idleReader // by token, a number per park
	next   uint64
}

var (
	pollerOnce sync.Once
	thePoller  *poller
)

// sharedPoller is the process's poller, started on first use; nil if epoll is not there.
func sharedPoller() *poller {
	pollerOnce.Do(func() {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err == nil {
			err = syscall.SetNonblock(epfd, true) // so that os.NewFile hands it to Go's poller
		}
		if err != nil {
			slog.Warn("no epoll: idle connections keep a goroutine each", "err", err)
			return
		}
		thePoller = &poller{epfd: epfd, parked: make(map[uint64]*idleReader)}
		go thePoller.run(os.NewFile(uintptr(epfd), "idle connections"))
	})
	return thePoller
}

// park arms r: wake runs on a goroutine of its own once the client sends something, or
// the connection ends, or r is closed. It reports false when r cannot be parked (closed
// already, or epoll refused): then the caller waits another way.
func (p *poller) park(r *idleReader, wake func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.closed {
		return false
	}
	p.next++
	token := p.next
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
	op := syscall.EPOLL_CTL_ADD
	if r.inSet {
		op = syscall.EPOLL_CTL_MOD // disarmed after its last event, still in the set
	}
	var err error
	if cerr := r.raw.Control(func(fd uintptr) { err = syscall.EpollCtl(p.epfd, op, int(fd), &ev) }); cerr != nil || err != nil {
		return false
	}
	r.inSet, r.token, r.wake = true, token, wake
	p.parked[token] = r
	return true
}

func (p *poller) takeLocked(token uint64) func() {
	r := p.parked[token]
	if r == nil {
		return nil
	}
	delete(p.parked, token)
	wake := r.wake
	r.token, r.wake = 0, nil
	return wake
}

// run waits for the set's events in Go's own poller (the epoll descriptor is readable
// while events are ready), not in a blocking system call: a reader woken by an event
// starts as soon as any goroutine would, without a thread coming back from a syscall.
func (p *poller) run(events *os.File) {
	raw, err := events.SyscallConn()
	if err != nil {
		slog.Error("epoll descriptor not pollable: idle connections are no longer read", "err", err)
		return
	}
	ready := make([]syscall.EpollEvent, 256)
	for {
		err := raw.Read(func(fd uintptr) bool {
			n, err := syscall.EpollWait(int(fd), ready, 0)
			if n <= 0 || err != nil {
				return false // nothing ready (or interrupted): wait until something is
			}
			p.mu.Lock()
			for _, ev := range ready[:n] {
				if wake := p.takeLocked(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32); wake != nil {
					go wake()
				}
			}
			p.mu.Unlock()
			return true
		})
		if err != nil {
			// Not expected while the process lives; parked readers would never wake.
			slog.Error("epoll wait failed: idle connections are no longer read", "err", err)
			return
		}
	}
}

// parking is what the poller keeps in an idleReader, guarded by the poller's mu.
type parking struct {
	inSet  bool   // the socket is in the epoll set (armed or not)
	closed bool   // Close was called: never park again
	token  uint64 // while parked: its key in parked
	wake   func() // while parked: what the poller runs
}

// park parks r with the process's poller (see poller.park).
func (r *idleReader) park(wake func()) bool {
	p := sharedPoller()
	return p != nil && p.park(r, wake)
}

// closing marks r closed and wakes it if it is parked: closing its socket takes it out of
// the epoll set without an event. Both happen under the poller's lock, so a park either
// comes first (and is woken here) or finds r closed (and the reader waits on a goroutine,
// and finds the end).
func (r *idleReader) closing() {
	if r.raw == nil {
		return
	}
	p := sharedPoller()
	if p == nil {
		return
	}
	p.mu.Lock()
	r.closed = true
	wake := p.takeLocked(r.token)
	p.mu.Unlock()
	if wake != nil {
		go wake()
	}
}
