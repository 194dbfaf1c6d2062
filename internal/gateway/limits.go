package gateway

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/chathub/chathub/internal/poll"
	"github.com/chathub/chathub/internal/protocol"
)

// Limits protect a gateway from a client. Zero values switch a limit off.
//
// Rates are token buckets per user (or per client address) shared by every connection of
// that user on this gateway, so reconnecting does not refill them. A burst of zero means
// twice the rate.
type Limits struct {
	// MessageRate is messages per second per user; MessageBurst the allowance of a burst.
	MessageRate  float64
	MessageBurst int
	// CommandRate is commands of any kind per second per user; CommandBurst as above.
	CommandRate  float64
	CommandBurst int
	// ConnectRate is new connections per second per client address (beyond: HTTP 429);
	// ConnectBurst as above. Behind a load balancer every client has the balancer's
	// address unless ClientAddrHeader names the header that carries the client's.
	ConnectRate      float64
	ConnectBurst     int
	ClientAddrHeader string
	// UserConnectRate is new connections per second per user (beyond: rate_limited and
	// close 1013); UserConnectBurst as above.
	UserConnectRate  float64
	UserConnectBurst int
	// RoomCreateRate is new rooms per second per user, public or private (beyond:
	// rate_limited); RoomCreateBurst as above.
	RoomCreateRate  float64
	RoomCreateBurst int
	// MaxConns is the connections one gateway accepts (beyond: HTTP 503).
	MaxConns int
	// MaxConnsPerUser is the connections of one user on one gateway (beyond: close 1013).
	MaxConnsPerUser int
	// MaxRooms is the rooms one session may be in (beyond: forbidden). Private rooms that
	// others open with the user join its sessions only while they are in fewer than half
	// of MaxRooms, so nobody can fill someone else's rooms.
	MaxRooms int
	// HistoryReads is how many GET /history requests one gateway serves at once (beyond:
	// they wait up to a second, then 429).
	HistoryReads int
}

// limiters are a gateway's buckets, made once from its Limits.
type limiters struct {
	commands, messages, connects, userConnects, roomCreates *buckets
	historyReads                                            *semaphore.Weighted // nil: no limit
}

func (l Limits) limiters() *limiters {
	lim := &limiters{
		commands:     newBuckets(l.CommandRate, l.CommandBurst),
		messages:     newBuckets(l.MessageRate, l.MessageBurst),
		connects:     newBuckets(l.ConnectRate, l.ConnectBurst),
		userConnects: newBuckets(l.UserConnectRate, l.UserConnectBurst),
		roomCreates:  newBuckets(l.RoomCreateRate, l.RoomCreateBurst),
	}
	if l.HistoryReads > 0 {
		lim.historyReads = semaphore.NewWeighted(int64(l.HistoryReads))
	}
	return lim
}

// bucketSweep is how often full buckets are forgotten when no calls do it.
const bucketSweep = 5 * time.Second

// forgetFull forgets full buckets every bucketSweep until ctx ends.
func (l *limiters) forgetFull(ctx context.Context) {
	poll.Every(ctx, bucketSweep, func() {
		for _, b := range []*buckets{l.commands, l.messages, l.connects, l.userConnects, l.roomCreates} {
			b.sweep()
		}
	})
}

// allow takes one command of the given type from user's allowance.
func (l *limiters) allow(user, typ string) bool {
	if !l.commands.allow(user) {
		return false
	}
	return !stores(typ) || l.messages.allow(user)
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

// clientAddr is the address new connections are counted by: the header's value when one
// is configured and present (its last entry, the one the nearest proxy added), else the
// peer's IP.
func (l Limits) clientAddr(r *http.Request) string {
	if l.ClientAddrHeader != "" {
		if v := r.Header.Get(l.ClientAddrHeader); v != "" {
			if i := strings.LastIndexByte(v, ','); i >= 0 {
				v = v[i+1:]
			}
			return strings.TrimSpace(v)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var (
	errRateLimited    = protocol.Errorf(protocol.CodeRateLimited, "too many commands, slow down; nothing was stored")
	errConnectLimited = protocol.Errorf(protocol.CodeRateLimited, "too many new connections, reconnect a little later")
	errRoomsLimited   = protocol.Errorf(protocol.CodeRateLimited, "too many new rooms lately; join an existing room or try again later")
)
