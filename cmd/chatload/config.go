package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is one chatload run. Zero values are documented per field; main
// fills it from flags and tests build it directly.
type Config struct {
	URLs           []string      // gateway WebSocket URLs, clients spread round-robin; required
	Clients        int           // connections; zero means 1
	Rooms          int           // rooms "<RoomPrefix>-0".."<RoomPrefix>-<Rooms-1>"; zero means 1
	RoomsPerClient int           // rooms each client joins; zero means 1, capped at Rooms
	RoomPrefix     string        // zero means "load"
	Publishers     int           // clients 0..Publishers-1 also publish; zero means none (idle)
	Rate           float64       // total messages/s over all publishers; zero means as fast as acks allow
	Window         int           // messages a publisher may have unacknowledged; zero means 1
	Messages       int           // messages per publisher, then stop early; zero means no limit
	Size           int           // message body bytes (at least the header); zero means 64
	Duration       time.Duration // publishing (or idle holding) time; zero means 10s
	Drain          time.Duration // longest wait for stragglers after publishing; zero means 10s
	ConnectTimeout time.Duration // longest wait for all clients to connect and join; zero means 60s
	TokenSecret    string        // HS256 secret: token mode when set, open mode when empty
	Idle           bool          // only connect, join and hold; also when Publishers is zero
	Soak           bool          // sample each gateway's /metrics and judge growth
	SampleEvery    time.Duration // /metrics sampling period; zero means 10s
	SoakThreshold  float64       // allowed growth, last third vs first third; zero means 0.2 (20%)
	Progress       time.Duration // progress line period; zero means 1s, negative means none
	JSON           bool          // print the summary as JSON
	RunID          string        // marks this run's messages; zero means random
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Clients, 1)
	def(&c.Rooms, 1)
	def(&c.RoomsPerClient, 1)
	def(&c.Window, 1)
	def(&c.Size, 64)
	c.RoomsPerClient = min(c.RoomsPerClient, c.Rooms)
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defDur(&c.Duration, 10*time.Second)
	defDur(&c.Drain, 10*time.Second)
	defDur(&c.ConnectTimeout, 60*time.Second)
	defDur(&c.SampleEvery, 10*time.Second)
	defDur(&c.Progress, time.Second)
	if c.RoomPrefix == "" {
		c.RoomPrefix = "load"
	}
	if c.SoakThreshold == 0 {
		c.SoakThreshold = 0.2
	}
	if c.Publishers == 0 {
		c.Idle = true
	}
	if c.Idle {
		c.Publishers = 0
	}
	if c.RunID == "" {
		c.RunID = randomID(6)
	}
	return c
}

func (c Config) validate() error {
	if len(c.URLs) == 0 {
		return errors.New("chatload: no gateway URL")
	}
	for _, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "ws" && p.Scheme != "wss") {
			return fmt.Errorf("chatload: bad gateway URL %q: want ws:// or wss://", u)
		}
	}
	switch {
	case c.Clients < 1, c.Rooms < 1, c.Publishers < 0, c.Window < 1:
		return errors.New("chatload: clients, rooms and window must be positive, publishers not negative")
	case c.Publishers > c.Clients:
		return fmt.Errorf("chatload: %d publishers but only %d clients", c.Publishers, c.Clients)
	case c.Rate < 0:
		return errors.New("chatload: negative rate")
	case c.Size > 4000:
		return errors.New("chatload: size over the protocol's 4,000 bytes")
	case strings.ContainsAny(c.RunID, " \n\"\\"):
		return errors.New("chatload: run id must be one plain word")
	}
	return nil
}

// roomName is the name of room r.
func (c Config) roomName(r int) string { return fmt.Sprintf("%s-%d", c.RoomPrefix, r) }

// clientRooms returns the rooms client i joins: i, i+1, ... modulo Rooms, so
// rooms get clients (and publishers, the first clients) round-robin.
func (c Config) clientRooms(i int) []int {
	rooms := make([]int, c.RoomsPerClient)
	for j := range rooms {
		rooms[j] = (i + j) % c.Rooms
	}
	return rooms
}

// clientURL returns the gateway URL client i dials (without its query).
func (c Config) clientURL(i int) string { return c.URLs[i%len(c.URLs)] }
