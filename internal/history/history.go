// Package history owns the JetStream stream that holds every stored chat event.
//
// One stream (subject.Stream) keeps the events of all rooms, one subject per room
// (subject.Events). An event's id is its stream sequence. The stream republishes every stored
// event on subject.Live with the headers Nats-Sequence and Nats-Last-Sequence: that is the live
// feed the gateways follow.
//
// Reading one room is the hard part: the server has no "last N messages of one subject" call,
// and a room's events are spread over the whole stream. Reads here use direct batch gets
// (next message of a subject from a sequence on) and place the start of the read from the
// room's density, so a cold read of a room's latest 50 events costs a few round trips however
// many other rooms share the stream. See docs/benchmarks-history.md. Any replica answers a
// direct get; leader.go keeps a replica that lags behind the leader from shortening a read.
package history

import (
	"errors"
	"time"
)

// Config is the stream's retention. The zero value is usable.
type Config struct {
	// Depth is the number of events kept per room (MaxMsgsPerSubject); zero means 10,000.
	Depth int64
	// MaxAge is how long an event is kept; zero means 30 days.
	MaxAge time.Duration
	// Duplicates is the window in which a message id is stored once; zero means 2 minutes.
	// It is cut to MaxAge when longer (the server refuses a longer one).
	Duplicates time.Duration
	// Replicas is the number of stream replicas; zero means 1.
	Replicas int
}

// Defaults for the zero values of Config.
const (
	DefaultDepth      = 10_000
	DefaultMaxAge     = 30 * 24 * time.Hour
	DefaultDuplicates = 2 * time.Minute
	DefaultReplicas   = 1

	// defaultTimeout bounds every call whose ctx has no deadline.
	defaultTimeout = 5 * time.Second
)

// ErrUnavailable is wrapped by every error caused by NATS or JetStream being unreachable (no
// connection, no responders, no stream leader, a timeout). Nothing was stored; retry later.
var ErrUnavailable = errors.New("history: event stream unavailable")

// Stored is one event as stored.
type Stored struct {
	// ID is the event's stream sequence.
	ID uint64
	// Data is the stored JSON object, without its "id" field (the caller adds it).
	Data []byte
}

// RoomInfo tells whether a resume point of a room is still covered by the stream.
type RoomInfo struct {
	// StreamFirst is the stream's first sequence (over all rooms).
	StreamFirst uint64
	// First and Last are the room's oldest and newest stored ids, 0 when the room has none.
	First, Last uint64
	// Count is the number of events of the room stored.
	Count uint64
	// Depth is the configured number of events kept per room.
	Depth int64
}

func (c Config) withDefaults() Config {
	if c.Depth == 0 {
		c.Depth = DefaultDepth
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.Duplicates > c.MaxAge {
		c.Duplicates = c.MaxAge
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	return c
}

func (c Config) validate() error {
	if c.Depth < 0 || c.MaxAge < 0 || c.Duplicates < 0 || c.Replicas < 0 {
		return errors.New("history: negative value in Config")
	}
	return nil
}
