package main

import (
	"fmt"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
)

// handleFrame handles the newline-separated objects of one gateway frame in
// order, all stamped with the frame's arrival time, and returns how many of
// them were joined replies for the client's rooms.
func (c *client) handleFrame(frame []byte, now time.Time) (joined int) {
	for line := range chatclient.Lines(frame) {
		if err := chatclient.Scan(line, &c.obj); err != nil {
			c.r.noteError("decode", fmt.Errorf("%w: %.200q", err, line))
			continue
		}
		joined += c.handleObject(&c.obj, now)
	}
	return joined
}

func (c *client) handleObject(o *chatclient.Object, now time.Time) int {
	switch string(o.Type) {
	case "message", "join", "add", "remove", "leave":
		c.onEvent(o, now)
	case "joined":
		return c.onJoined(o, now)
	case "ack":
		if c.pub != nil {
			c.pub.onAck(o.Ref)
		}
	case "error":
		c.onError(o)
	}
	// welcome, left, online, offline, close and anything newer: nothing to count.
	return 0
}

func (c *client) room(name []byte) *roomState {
	for _, rs := range c.rooms {
		if rs.name == string(name) {
			return rs
		}
	}
	return nil
}

// event is what the room check needs of a stored event (the type names are constants:
// converting them does not allocate).
func (c *client) event(o *chatclient.Object) chatclient.Event {
	e := chatclient.Event{ID: o.ID, Own: string(o.User) == c.user && string(o.Session) == c.session}
	switch string(o.Type) {
	case "message":
		e.Type = "message"
	case "join":
		e.Type = "join"
	case "add":
		e.Type = "add"
	case "remove":
		e.Type = "remove"
	case "leave":
		e.Type = "leave"
	}
	return e
}

// onJoined checks a joined reply (chatclient.RoomCheck: ids in order, a first join ends
// with the session's own join, a rejoin is recovered) and counts its messages.
func (c *client) onJoined(o *chatclient.Object, now time.Time) int {
	rs := c.room(o.Room)
	if rs == nil {
		return 0 // a private room someone opened with us: not part of the load
	}
	if rs.resume && !o.Recovered {
		c.stats.notResumed.Add(1)
		c.r.noteError("rejoin "+c.user, fmt.Errorf("%s: recovered:false since %d", rs.name, rs.check.Last))
	}
	var evs []chatclient.Event
	if o.Events != nil {
		err := chatclient.Elements(o.Events, func(e []byte) error {
			if err := chatclient.Scan(e, &c.evt); err != nil {
				return err
			}
			if c.evt.HasID {
				evs = append(evs, c.event(&c.evt))
			}
			c.count(rs, &c.evt, now)
			return nil
		})
		if err != nil {
			c.r.noteError("decode joined", err)
		}
	}
	ask := chatclient.Ask{Since: rs.check.Last, HasSince: rs.resume}
	for _, p := range rs.check.Reply(ask, o.Recovered, evs) {
		c.stats.badJoined.Add(1)
		c.r.noteError("joined "+c.user, fmt.Errorf("%s: %s", rs.name, p))
	}
	return 1
}

// onEvent checks one live event against the room's previous ones
// (chatclient.RoomCheck) and counts it.
func (c *client) onEvent(o *chatclient.Object, now time.Time) {
	rs := c.room(o.Room)
	if rs == nil {
		return
	}
	if o.HasID {
		if p := rs.check.Live(c.event(o)); p != "" {
			c.stats.idBackward.Add(1)
			c.r.noteError("live event "+c.user, fmt.Errorf("%s: %s", rs.name, p))
		}
	}
	c.count(rs, o, now)
}

// count counts a stored event and, for this run's messages, checks its publisher's
// sequence number and records its latency.
func (c *client) count(rs *roomState, o *chatclient.Object, now time.Time) {
	c.stats.events.Add(1)
	if string(o.Type) != "message" {
		return
	}
	b, ok := parseBody(o.Message, c.r.cfg.RunID)
	if !ok {
		return
	}
	c.stats.delivered.Add(1)
	c.stats.latency.record(now.Sub(b.sent))
	t := rs.tracks[b.pub]
	if t == nil {
		t = &track{}
		rs.tracks[b.pub] = t
	}
	switch t.add(b.seq) {
	case fresh:
		c.stats.distinct.Add(1)
	case late:
		c.stats.distinct.Add(1)
		if b.pub < len(c.r.pubs) && c.r.pubs[b.pub].wasRetried(rs.idx, b.seq) {
			c.stats.lateRetried.Add(1)
		} else {
			c.stats.late.Add(1)
		}
	case duplicated:
		c.stats.duplicated.Add(1)
	}
}

func (c *client) onError(o *chatclient.Object) {
	c.r.errors.add(string(o.Code))
	if c.pub != nil && c.pub.onError(o.Ref, o.Code) {
		return
	}
	if rs := c.joinOf(o.Ref); rs != nil && retryable(o.Code) {
		c.r.tot.joinRetries.Add(1)
		c.retryJoin(rs)
		return
	}
	c.r.tot.otherErrors.Add(1)
	c.r.noteError("gateway error "+c.user, fmt.Errorf("%s (ref %q)", o.Code, o.Ref))
}

// joinOf is the room whose join carried ref ("j<room index>"), or nil.
func (c *client) joinOf(ref []byte) *roomState {
	if len(ref) < 2 || ref[0] != 'j' {
		return nil
	}
	idx, _, ok := nextUint(ref[1:])
	for _, rs := range c.rooms {
		if ok && uint64(rs.idx) == idx {
			return rs
		}
	}
	return nil
}

// retryable says whether a command refused with code may be sent again as is.
func retryable(code []byte) bool {
	switch string(code) {
	case "rate_limited", "unavailable", "internal":
		return true
	}
	return false
}
