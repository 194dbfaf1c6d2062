package clustertest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Op is what one step of a schedule does.
type Op string

// The ops of a schedule. Client ops name a client (a user's session); process ops name a
// gateway or a NATS node (0-based).
const (
	OpJoin      Op = "join"      // the client joins a room (Since: with since, when it was in it before)
	OpJoins     Op = "joins"     // several clients join one room at once (through different gateways)
	OpLeave     Op = "leave"     // the client leaves a room
	OpMessage   Op = "message"   // the client posts N messages to a room, without waiting for the acks
	OpPrivate   Op = "private"   // the client opens the private room with a user
	OpReconnect Op = "reconnect" // the client's connection is cut; it reconnects and rejoins with since
	OpTakeover  Op = "takeover"  // a second connection of the client's session replaces the first (4001)
	OpAway      Op = "away"      // the client's connection is cut and it stays away past its grace period
	OpReturn    Op = "return"    // an away client comes back and rejoins with since
	OpQuit      Op = "quit"      // the client closes with 1000 (it leaves its rooms) and stays away
	OpBack      Op = "back"      // a client that quit comes back and joins its rooms again
	OpTermGW    Op = "gw-term"   // SIGTERM to a gateway (it drains), then start it again with its id
	OpKillGW    Op = "gw-kill"   // SIGKILL to a gateway; gw-start follows some steps later
	OpStartGW   Op = "gw-start"  // start a killed gateway again with the same --gateway-id
	OpKillNATS  Op = "nats-kill" // SIGKILL to a NATS node; nats-start follows some steps later
	OpStartNATS Op = "nats-start"
	OpPause     Op = "pause" // nothing happens for N × 100 ms
)

// Step is one step of a schedule.
type Step struct {
	N       int    // position, from 1
	Op      Op     // what
	Client  int    // index into the checker's clients (client ops)
	Clients []int  // OpJoins
	Room    string // a public room, or "dm:<user>" for the private room of Client's user and that user
	Peer    string // OpPrivate: the other user
	Since   bool   // OpJoin: join with since
	Target  int    // gateway or NATS node
	Count   int    // OpMessage: messages; OpPause: tenths of a second
}

// ClientName names client i of the checker: user u<k>, session s<j> (users 0 and 1 have two
// sessions each, as two tabs).
type ClientName struct{ User, Session string }

// checkerClients are the sessions of a checker run.
var checkerClients = []ClientName{
	{"u0", "s0"}, {"u0", "s1"}, {"u1", "s0"}, {"u1", "s1"},
	{"u2", "s0"}, {"u3", "s0"}, {"u4", "s0"}, {"u5", "s0"},
}

// checkerRooms are the public rooms of a checker run.
var checkerRooms = []string{"r0", "r1", "r2", "r3"}

func (s Step) String() string {
	cl := func(i int) string { return checkerClients[i].User + "/" + checkerClients[i].Session }
	var b strings.Builder
	fmt.Fprintf(&b, "step %d: %s", s.N, s.Op)
	switch s.Op {
	case OpJoin:
		fmt.Fprintf(&b, " %s %s", cl(s.Client), s.Room)
		if s.Since {
			b.WriteString(" (since)")
		}
	case OpJoins:
		var names []string
		for _, c := range s.Clients {
			names = append(names, cl(c))
		}
		fmt.Fprintf(&b, " %s by %s", s.Room, strings.Join(names, " "))
	case OpLeave:
		fmt.Fprintf(&b, " %s %s", cl(s.Client), s.Room)
	case OpMessage:
		fmt.Fprintf(&b, " %s %s ×%d", cl(s.Client), s.Room, s.Count)
	case OpPrivate:
		fmt.Fprintf(&b, " %s with %s", cl(s.Client), s.Peer)
	case OpReconnect, OpTakeover, OpAway, OpReturn, OpQuit, OpBack:
		fmt.Fprintf(&b, " %s", cl(s.Client))
	case OpTermGW, OpKillGW, OpStartGW:
		fmt.Fprintf(&b, " gw-%d", s.Target+1)
	case OpKillNATS, OpStartNATS:
		fmt.Fprintf(&b, " n%d", s.Target+1)
	case OpPause:
		fmt.Fprintf(&b, " %d ms", 100*s.Count)
	}
	return b.String()
}

// Planner makes a schedule from a seed, one step at a time: the same seed always gives the
// same steps. It keeps its own model of who is where, so that every step it makes is
// possible (a leave of a room the client is in, at most one gateway and one NATS node down
// at a time); what actually happens when the steps run is the checker's business.
type Planner struct {
	rng     *rand.Rand
	n       int
	clients []plannedClient
	gwDown  int    // -1: none
	natDown int    // -1: none
	rooms   int    // new rooms made so far ("x1", "x2", ...)
	later   []Step // steps due later (returns, restarts), by Step.N
}

type plannedClient struct {
	rooms []string // rooms it joined itself (public, or "dm:<peer>" it opened)
	ever  []string // rooms it was ever in
	state Op       // "" (connected), OpAway or OpQuit
}

// NewPlanner makes a planner for seed.
func NewPlanner(seed uint64) *Planner {
	return &Planner{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		clients: make([]plannedClient, len(checkerClients)), gwDown: -1, natDown: -1}
}

// Next returns the next step.
func (p *Planner) Next() Step {
	p.n++
	for i, s := range p.later {
		if s.N <= p.n {
			p.later = slices.Delete(p.later, i, i+1)
			s.N = p.n
			p.apply(s)
			return s
		}
	}
	for {
		if s, ok := p.pick(); ok {
			s.N = p.n
			p.apply(s)
			return s
		}
	}
}

// Finish returns the steps still due (returns, restarts), so that a schedule ends with
// every client back and every process running.
func (p *Planner) Finish() []Step {
	var out []Step
	for _, s := range p.later {
		p.n++
		s.N = p.n
		p.apply(s)
		out = append(out, s)
	}
	p.later = nil
	return out
}

var weights = []struct {
	op Op
	w  int
}{
	{OpMessage, 30}, {OpJoin, 10}, {OpJoins, 8}, {OpLeave, 9}, {OpPrivate, 4},
	{OpReconnect, 6}, {OpTakeover, 5}, {OpAway, 2}, {OpQuit, 2},
	{OpTermGW, 3}, {OpKillGW, 3}, {OpKillNATS, 2}, {OpPause, 6},
}

// pick draws a step; false when the drawn op is not possible now.
func (p *Planner) pick() (Step, bool) {
	total := 0
	for _, w := range weights {
		total += w.w
	}
	x := p.rng.IntN(total)
	var op Op
	for _, w := range weights {
		if x < w.w {
			op = w.op
			break
		}
		x -= w.w
	}
	c := p.rng.IntN(len(p.clients))
	pc := &p.clients[c]
	up := pc.state == ""
	switch op {
	case OpMessage:
		if !up || len(pc.rooms) == 0 {
			return Step{}, false
		}
		return Step{Op: op, Client: c, Room: pc.rooms[p.rng.IntN(len(pc.rooms))], Count: 1 + p.rng.IntN(5)}, true
	case OpJoin:
		room := checkerRooms[p.rng.IntN(len(checkerRooms))]
		if !up || slices.Contains(pc.rooms, room) {
			return Step{}, false
		}
		return Step{Op: op, Client: c, Room: room, Since: slices.Contains(pc.ever, room) && p.rng.IntN(2) == 0}, true
	case OpJoins:
		// Often a new room, cold on every gateway: its first joins race the room's start.
		room := checkerRooms[p.rng.IntN(len(checkerRooms))]
		if p.rng.IntN(5) < 2 {
			room = "x" + strconv.Itoa(p.rooms+1)
		}
		var cs []int
		for _, i := range p.rng.Perm(len(p.clients)) {
			if q := p.clients[i]; q.state == "" && !slices.Contains(q.rooms, room) && len(cs) < 5 {
				cs = append(cs, i)
			}
		}
		if len(cs) < 2 {
			return Step{}, false
		}
		slices.Sort(cs)
		return Step{Op: op, Clients: cs, Room: room}, true
	case OpLeave:
		if !up || len(pc.rooms) == 0 {
			return Step{}, false
		}
		return Step{Op: op, Client: c, Room: pc.rooms[p.rng.IntN(len(pc.rooms))]}, true
	case OpPrivate:
		peer := checkerClients[p.rng.IntN(len(checkerClients))].User
		if !up || peer == checkerClients[c].User || slices.Contains(pc.rooms, "dm:"+peer) {
			return Step{}, false
		}
		return Step{Op: op, Client: c, Peer: peer}, true
	case OpReconnect, OpTakeover, OpAway, OpQuit:
		return Step{Op: op, Client: c}, up
	case OpTermGW, OpKillGW:
		if p.gwDown >= 0 {
			return Step{}, false
		}
		return Step{Op: op, Target: p.rng.IntN(3)}, true
	case OpKillNATS:
		if p.natDown >= 0 {
			return Step{}, false
		}
		return Step{Op: op, Target: p.rng.IntN(3)}, true
	case OpPause:
		return Step{Op: op, Count: 1 + p.rng.IntN(10)}, true
	}
	return Step{}, false
}

// apply updates the model with a step, and plans what must follow it.
func (p *Planner) apply(s Step) {
	pc := &p.clients[s.Client]
	switch s.Op {
	case OpJoin:
		pc.rooms, pc.ever = append(pc.rooms, s.Room), appendNew(pc.ever, s.Room)
	case OpJoins:
		if strings.HasPrefix(s.Room, "x") {
			p.rooms++
		}
		for _, c := range s.Clients {
			q := &p.clients[c]
			q.rooms, q.ever = append(q.rooms, s.Room), appendNew(q.ever, s.Room)
		}
	case OpPrivate:
		pc.rooms = append(pc.rooms, "dm:"+s.Peer)
	case OpLeave:
		pc.rooms = slices.DeleteFunc(pc.rooms, func(r string) bool { return r == s.Room })
	case OpAway:
		pc.state = OpAway
		p.after(4+p.rng.IntN(8), Step{Op: OpReturn, Client: s.Client})
	case OpQuit:
		pc.state = OpQuit
		p.after(2+p.rng.IntN(8), Step{Op: OpBack, Client: s.Client})
	case OpReturn, OpBack:
		pc.state = ""
	case OpKillGW:
		p.gwDown = s.Target
		p.after(1+p.rng.IntN(6), Step{Op: OpStartGW, Target: s.Target})
	case OpStartGW:
		p.gwDown = -1
	case OpKillNATS:
		p.natDown = s.Target
		p.after(1+p.rng.IntN(6), Step{Op: OpStartNATS, Target: s.Target})
	case OpStartNATS:
		p.natDown = -1
	}
}

func (p *Planner) after(steps int, s Step) {
	s.N = p.n + steps
	p.later = append(p.later, s)
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
