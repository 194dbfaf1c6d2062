package clustertest

// ClientStats is a snapshot of what a client did and saw.
type ClientStats struct {
	Conns        int         // connections made (reconnects are Conns-1)
	DialFailures int         // dials that failed
	Closes       map[int]int // how connections ended, by close code (1005: none given; 1006: cut)
	Gateways     []string    // welcome.gatewayId of each connection
	Sent, Resent int         // messages posted, and posted again with the same ref
	Pending      int         // messages not acknowledged yet
	Errors       map[string]int
	Problems     []string
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := ClientStats{Conns: c.conns, DialFailures: c.dialFailures, Closes: map[int]int{},
		Gateways: append([]string(nil), c.gateways...), Sent: c.pub.sent, Resent: c.pub.resent,
		Pending: len(c.pub.pending), Errors: map[string]int{},
		Problems: append([]string(nil), c.problems...)}
	for k, v := range c.closes {
		s.Closes[k] = v
	}
	for k, v := range c.errors {
		s.Errors[k] = v
	}
	return s
}

// Gateway is the gatewayId of the current (or last) connection.
func (c *Client) Gateway() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.gateways) == 0 {
		return ""
	}
	return c.gateways[len(c.gateways)-1]
}

// Joined reports whether every room is joined on a live connection.
func (c *Client) Joined() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return false
	}
	for _, rl := range c.rooms {
		if !rl.joined {
			return false
		}
	}
	return true
}

// Room returns a copy of what the client has seen of room.
func (c *Client) Room(room string) RoomLog {
	c.mu.Lock()
	defer c.mu.Unlock()
	rl := *c.rooms[room]
	rl.Msgs = append([]uint64(nil), rl.Msgs...)
	return rl
}

// Acked returns the ids of the client's acknowledged messages, by ref.
func (c *Client) Acked() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.pub.acked))
	for k, v := range c.pub.acked {
		out[k] = v
	}
	return out
}

// Notices returns how often each presence notice was seen: "online alice", "offline alice",
// "leave alice lobby", "join alice lobby", ...
func (c *Client) Notices() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.notices))
	for k, v := range c.notices {
		out[k] = v
	}
	return out
}
