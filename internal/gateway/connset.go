package gateway

import (
	"context"
	"slices"
	"sync"

	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/protocol"
)

// connSet is the gateway's list of open connections, for shutdown and for finding the
// connection of a hub session. A leaf: no I/O under its lock.
type connSet struct {
	mu      sync.Mutex
	bySess  map[*hub.Session]*conn
	perUser map[string][]*conn
	empty   chan struct{} // closed while the set is empty and draining
	drained bool
	drainc  chan struct{} // closed by drain
}

func newConnSet() connSet {
	return connSet{bySess: make(map[*hub.Session]*conn), perUser: make(map[string][]*conn),
		drainc: make(chan struct{})}
}

// draining is closed once the gateway drains.
func (s *connSet) draining() <-chan struct{} { return s.drainc }

// add registers c. It refuses, with the close code to use, once the gateway is draining
// (1001) or when the user already has maxPerUser connections here (1013; 0: no limit). A
// connection of a session that is already connected here is not refused: it replaces the
// older one, which is about to close with 4001.
func (s *connSet) add(c *conn, maxPerUser int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained {
		return protocol.CloseGoingAway
	}
	user := s.perUser[c.sess.User]
	if maxPerUser > 0 && len(user) >= maxPerUser &&
		!slices.ContainsFunc(user, func(x *conn) bool { return x.sess.ID == c.sess.ID }) {
		return protocol.CloseTryLater
	}
	s.bySess[c.sess] = c
	s.perUser[c.sess.User] = append(user, c)
	return 0
}

func (s *connSet) remove(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bySess[c.sess] != c {
		return
	}
	delete(s.bySess, c.sess)
	if rest := slices.DeleteFunc(s.perUser[c.sess.User], func(x *conn) bool { return x == c }); len(rest) > 0 {
		s.perUser[c.sess.User] = rest
	} else {
		delete(s.perUser, c.sess.User)
	}
	if s.drained && len(s.bySess) == 0 && s.empty != nil {
		close(s.empty)
		s.empty = nil
	}
}

// ofUser returns the open connections of a user.
func (s *connSet) ofUser(user string) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.perUser[user])
}

func (s *connSet) all() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.bySess))
	for _, c := range s.bySess {
		out = append(out, c)
	}
	return out
}

func (s *connSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bySess)
}

// drain refuses new connections and asks every open one to close with 1001 after a close
// event, once what is queued for it is written.
func (s *connSet) drain() {
	s.mu.Lock()
	if !s.drained {
		close(s.drainc)
	}
	s.drained = true
	s.empty = make(chan struct{})
	if len(s.bySess) == 0 {
		close(s.empty)
		s.empty = nil
	}
	s.mu.Unlock()
	closing := protocol.CloseEvent()
	for _, c := range s.all() {
		c.sess.Reply(&hub.Frame{Data: closing})
		c.sess.Reply(&hub.Frame{Close: protocol.CloseGoingAway})
	}
}

// wait returns once every connection has ended, or ctx has.
func (s *connSet) wait(ctx context.Context) error {
	s.mu.Lock()
	empty := s.empty
	s.mu.Unlock()
	if empty == nil {
		return nil
	}
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *connSet) cutAll() {
	for _, c := range s.all() {
		c.ws.CloseNow()
	}
}
