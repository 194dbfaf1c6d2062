package chatclient

import (
	"maps"
	"slices"
)

// Stats is a snapshot of what a Session did and saw.
type Stats struct {
	Conns        int         // connections made (reconnects are Conns-1)
	DialFailures int         // dials that failed
	Closes       map[int]int // how connections ended, by close code (-1: cut without one)
	Gateways     []string    // welcome.gatewayId of each connection
	Sent, Resent int         // messages posted, and posted again with the same ref
	Pending      int         // messages not acknowledged yet
	Errors       map[string]int
	Problems     []string
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{DialFailures: s.failures, Closes: maps.Clone(s.closes), Sent: s.pub.sent,
		Resent: s.pub.resent, Pending: len(s.pub.pending), Errors: maps.Clone(s.errors),
		Problems: s.check.Problems()}
	for _, l := range s.conns {
		if l.Err == "" {
			st.Conns++
			st.Gateways = append(st.Gateways, l.Gateway)
		}
	}
	return st
}

// Gateway is the gatewayId of the current (or last) connection.
func (s *Session) Gateway() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.conns) - 1; i >= 0; i-- {
		if s.conns[i].Gateway != "" {
			return s.conns[i].Gateway
		}
	}
	return ""
}

// Connected reports whether the session has a connection that has been welcomed.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil && s.conns[s.gen-1].Gateway != ""
}

// Joined reports whether every room of the session is joined on a live connection.
func (s *Session) Joined() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return false
	}
	for _, r := range s.wanted {
		if !s.check.Joined(r) {
			return false
		}
	}
	return true
}

// Rooms lists the session's rooms: those it is in or is to rejoin.
func (s *Session) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.wanted)
}

// Room returns a copy of what the session received of room.
func (s *Session) Room(room string) RoomCheck { return s.check.Room(room) }

// Notices returns how often each notice was seen: "online alice", "offline alice",
// "leave alice lobby", "join alice lobby", "close", ...
func (s *Session) Notices() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.notices)
}

// ConnLogs returns the session's connections so far, oldest first (failed dials included,
// with Err set).
func (s *Session) ConnLogs() []ConnLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConnLog, len(s.conns))
	for i, l := range s.conns {
		out[i] = *l
		out[i].Joined, out[i].Left = maps.Clone(l.Joined), maps.Clone(l.Left)
	}
	return out
}
