package main

import (
	"bytes"
	"fmt"
	"time"
)

// handleFrame handles the newline-separated objects of one gateway frame in
// order, all stamped with the frame's arrival time, and returns how many of
// them were joined replies for the client's rooms.
func (c *client) handleFrame(frame []byte, now time.Time) (joined int) {
	for len(frame) > 0 {
		line := frame
		if i := bytes.IndexByte(frame, '\n'); i >= 0 {
			line, frame = frame[:i], frame[i+1:]
		} else {
			frame = nil
		}
		if skipSpace(line, 0) == len(line) {
			continue
		}
		if err := parseObject(line, &c.obj); err != nil {
			c.r.noteError("decode", fmt.Errorf("%w: %.200q", err, line))
			continue
		}
		joined += c.handleObject(&c.obj, now)
	}
	return joined
}

func (c *client) handleObject(o *object, now time.Time) int {
	switch string(o.typ) {
	case "message", "join", "add", "remove", "leave":
		c.onEvent(o, now)
	case "joined":
		return c.onJoined(o, now)
	case "ack":
		if c.pub != nil {
			c.pub.onAck(o.ref)
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

// onJoined handles the events a join (or a resuming rejoin) returned.
func (c *client) onJoined(o *object, now time.Time) int {
	rs := c.room(o.room)
	if rs == nil {
		return 0 // a private room someone opened with us: not part of the load
	}
	if rs.resume && !o.recovered {
		c.stats.notResumed.Add(1)
		c.r.noteError("rejoin "+c.user, fmt.Errorf("%s: recovered:false since %d", rs.name, rs.lastID))
	}
	if o.events != nil {
		err := forEachElement(o.events, func(e []byte) error {
			if err := parseObject(e, &c.evt); err != nil {
				return err
			}
			c.onEvent(&c.evt, now)
			return nil
		})
		if err != nil {
			c.r.noteError("decode joined", err)
		}
	}
	return 1
}

// onEvent checks one stored event: its id against the room's previous one and,
// for this run's messages, its publisher's sequence number and its latency.
func (c *client) onEvent(o *object, now time.Time) {
	rs := c.room(o.room)
	if rs == nil {
		return
	}
	c.stats.events.Add(1)
	if o.hasID {
		if o.id <= rs.lastID {
			c.stats.idBackward.Add(1)
			c.r.noteError("id not increasing "+c.user, fmt.Errorf("%s event %d in %s after %d", o.typ, o.id, rs.name, rs.lastID))
		} else {
			rs.lastID = o.id
		}
	}
	if string(o.typ) != "message" {
		return
	}
	b, ok := parseBody(o.message, c.r.cfg.RunID)
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

func (c *client) onError(o *object) {
	c.r.errors.add(string(o.code))
	if c.pub != nil && c.pub.onError(o.ref, o.code) {
		return
	}
	if rs := c.joinOf(o.ref); rs != nil && retryable(o.code) {
		c.r.tot.joinRetries.Add(1)
		c.retryJoin(rs)
		return
	}
	c.r.tot.otherErrors.Add(1)
	c.r.noteError("gateway error "+c.user, fmt.Errorf("%s (ref %q)", o.code, o.ref))
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
