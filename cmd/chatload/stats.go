package main

import (
	"crypto/rand"
	"sync/atomic"
)

// clientStats are one client's counters. The client's reader goroutine is the
// only writer; the reporter reads them while the run goes on.
type clientStats struct {
	events      atomic.Uint64 // stored events received (all types, all runs)
	delivered   atomic.Uint64 // this run's messages received, repeats included
	distinct    atomic.Uint64 // this run's messages received for the first time
	duplicated  atomic.Uint64 // a (room, publisher, seq) received again
	late        atomic.Uint64 // a seq received after a higher one of the same publisher and room
	lateRetried atomic.Uint64 // the same, for a seq the publisher had to send again (not a fault)
	idBackward  atomic.Uint64 // a live event the room check refused: id not above the room's previous one, or before its joined reply
	badJoined   atomic.Uint64 // joined replies the room check refused (ids out of order, no own join on a first join)
	reconnects  atomic.Uint64 // connections re-established after a drop
	notResumed  atomic.Uint64 // rejoins answered "recovered":false (a gap the gateway admits)
	latency     histogram     // end-to-end latency of this run's messages
}

// totals are the run-wide counters, shared by all goroutines.
type totals struct {
	dials        atomic.Uint64 // successful WebSocket handshakes, first ones and reconnects
	dialFailures atomic.Uint64 // handshakes that failed
	connected    atomic.Int64  // clients connected and joined right now
	sent         atomic.Uint64 // messages written, first sends only
	resent       atomic.Uint64 // messages written again after a reconnect or error
	acked        atomic.Uint64 // acks received
	sendErrors   atomic.Uint64 // error replies to messages (rate_limited, unavailable, ...)
	rejected     atomic.Uint64 // messages given up on (an error not worth retrying)
	otherErrors  atomic.Uint64 // error replies to anything else
	joinRetries  atomic.Uint64 // joins sent again after unavailable/rate_limited/internal
}

// sums adds up the clients' counters for a report.
type sums struct {
	events, delivered, distinct  uint64
	duplicated, late, idBackward uint64
	badJoined                    uint64
	lateRetried                  uint64
	reconnects, notResumed       uint64
	latency                      snapshot
}

func sumClients(clients []*client) *sums {
	s := &sums{}
	for _, c := range clients {
		st := &c.stats
		s.events += st.events.Load()
		s.delivered += st.delivered.Load()
		s.distinct += st.distinct.Load()
		s.duplicated += st.duplicated.Load()
		s.late += st.late.Load()
		s.lateRetried += st.lateRetried.Load()
		s.idBackward += st.idBackward.Load()
		s.badJoined += st.badJoined.Load()
		s.reconnects += st.reconnects.Load()
		s.notResumed += st.notResumed.Load()
		st.latency.addTo(&s.latency)
	}
	return s
}

// randomID returns n characters of [a-z0-9].
func randomID(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
