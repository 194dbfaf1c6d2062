package gateway

import (
	"golang.org/x/time/rate"

	"github.com/chathub/chathub/internal/protocol"
)

// Limits protect a gateway from a client. Zero values switch a limit off.
type Limits struct {
	// MessageRate is messages per second per session; MessageBurst the allowance of a
	// burst (zero means twice the rate).
	MessageRate  float64
	MessageBurst int
	// CommandRate is commands of any kind per second per session; CommandBurst as above.
	CommandRate  float64
	CommandBurst int
	// MaxConns is the connections one gateway accepts (beyond: HTTP 503).
	MaxConns int
	// MaxConnsPerUser is the connections of one user on one gateway (beyond: close 1013).
	MaxConnsPerUser int
	// MaxRooms is the rooms one session may be in (beyond: forbidden).
	MaxRooms int
}

// allowance is one session's rate limits: token buckets, no goroutine or timer.
type allowance struct {
	commands *rate.Limiter // nil: no limit
	messages *rate.Limiter
}

func (l Limits) allowance() allowance {
	return allowance{commands: bucket(l.CommandRate, l.CommandBurst), messages: bucket(l.MessageRate, l.MessageBurst)}
}

func bucket(r float64, burst int) *rate.Limiter {
	if r <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = max(int(2*r), 1)
	}
	return rate.NewLimiter(rate.Limit(r), burst)
}

// allow takes one command of the given type from the allowance.
func (a allowance) allow(typ string) bool {
	if a.commands != nil && !a.commands.Allow() {
		return false
	}
	return !stores(typ) || a.messages == nil || a.messages.Allow()
}

// stores reports whether a command stores an event of its own: the message allowance
// counts those (messages, edits, deletes, reactions).
func stores(typ string) bool {
	switch typ {
	case protocol.CmdMessage, protocol.CmdEdit, protocol.CmdDelete, protocol.CmdReact:
		return true
	}
	return false
}

var errRateLimited = protocol.Errorf(protocol.CodeRateLimited, "too many commands, slow down; nothing was stored")
