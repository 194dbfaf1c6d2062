package clustertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/poll"
)

// The steps of a schedule, as the checker runs them (exec). A client step first waits for
// its client to be back in its rooms (ready).

func (k *Check) join(ctx context.Context, i int, room string, since bool) {
	if !k.ready(ctx, i) || !k.settled(ctx, i, room) {
		return
	}
	jctx, cancel := context.WithTimeout(ctx, stepWait)
	defer cancel()
	if err := k.sessions[i].Join(jctx, room, since); err != nil {
		k.problem("%s: join %s did not complete in %v (connected %v, gateway %s)", k.name(i), room, stepWait,
			k.sessions[i].Connected(), k.sessions[i].Gateway())
	}
}

// joins joins several clients to a room at the same moment.
func (k *Check) joins(ctx context.Context, s Step) {
	var ok []int
	for _, i := range s.Clients {
		if k.ready(ctx, i) && k.settled(ctx, i, s.Room) {
			ok = append(ok, i)
		}
	}
	var wg sync.WaitGroup
	for _, i := range ok {
		wg.Go(func() {
			jctx, cancel := context.WithTimeout(ctx, stepWait)
			defer cancel()
			if err := k.sessions[i].Join(jctx, s.Room, false); err != nil {
				k.problem("%s: join %s did not complete in %v", k.name(i), s.Room, stepWait)
			}
		})
	}
	wg.Wait()
}

func (k *Check) leave(ctx context.Context, s Step) {
	room, ok := k.room(s.Client, s.Room)
	if !ok || !k.ready(ctx, s.Client) {
		return
	}
	cl := k.sessions[s.Client]
	switch {
	case cl.Room(room).Member == chatclient.In:
		k.expectExits(s.Client, room, 1, 1) // by its leave, or by the gateway when it was abandoned
	case slices.Contains(cl.Rooms(), room):
		k.expectExits(s.Client, room, 0, 1) // its join did not complete: it may count in the room
	}
	lctx, cancel := context.WithTimeout(ctx, stepWait)
	defer cancel()
	if err := cl.Leave(lctx, room); err != nil {
		k.cfg.Logf("%s: %v [%s]", k.name(s.Client), err, k.Where())
	}
}

func (k *Check) message(ctx context.Context, s Step) {
	room, ok := k.room(s.Client, s.Room)
	if !ok {
		k.cfg.Logf("%s is in no private room %s [%s]", k.name(s.Client), s.Room, k.Where())
		return
	}
	for range s.Count {
		k.sessions[s.Client].Post(room, "")
	}
}

// private opens a private room and checks that the peer's sessions that were connected all
// along were joined to it.
func (k *Check) private(ctx context.Context, s Step) {
	if !k.ready(ctx, s.Client) {
		return
	}
	type peerConn struct {
		i   int
		gen int
	}
	var peers []peerConn
	for i, n := range k.names {
		if n.User == s.Peer && k.sessions[i].Connected() {
			peers = append(peers, peerConn{i, k.gen(i)})
		}
	}
	pctx, cancel := context.WithTimeout(ctx, stepWait)
	defer cancel()
	room, err := k.sessions[s.Client].Private(pctx, s.Peer)
	if err != nil {
		k.problem("%s: private with %s: %v", k.name(s.Client), s.Peer, err)
		return
	}
	for _, p := range peers {
		ps := k.sessions[p.i]
		err := k.waitFor(ctx, stepWait, func() bool { return ps.InRoom(room) || k.gen(p.i) != p.gen })
		k.mu.Lock()
		natsDown := k.natsDown >= 0
		k.mu.Unlock()
		if err != nil && !natsDown {
			k.problem("%s: connected on %s all along, was not joined to the private room %s that %s opened",
				k.name(p.i), ps.Gateway(), room, k.name(s.Client))
		}
	}
}

// gen is the number of client i's current connection.
func (k *Check) gen(i int) int {
	logs := k.sessions[i].ConnLogs()
	if len(logs) == 0 {
		return 0
	}
	return logs[len(logs)-1].Gen
}

func (k *Check) away(ctx context.Context, i int) {
	if !k.ready(ctx, i) {
		return
	}
	rooms := k.sessions[i].Rooms()
	if !k.sessions[i].Away() {
		return
	}
	k.mu.Lock()
	k.awayAt[i] = time.Now()
	k.mu.Unlock()
	for _, r := range rooms {
		k.expectExits(i, r, 1, 1) // its grace period runs out
	}
}

func (k *Check) quit(ctx context.Context, i int) {
	if !k.ready(ctx, i) {
		return
	}
	rooms := k.sessions[i].Rooms()
	if !k.sessions[i].Quit() {
		return
	}
	for _, r := range rooms {
		k.expectExits(i, r, 1, 1) // at once
	}
}

// comeBack lets a client that went away (after its grace period) or quit connect again,
// once the gateways have taken it out of its rooms (its remove/leave are stored).
func (k *Check) comeBack(ctx context.Context, i int, away bool) {
	s := k.sessions[i]
	if away {
		k.mu.Lock()
		at := k.awayAt[i]
		k.mu.Unlock()
		time.Sleep(time.Until(at.Add(k.cfg.Grace))) // the grace period must run out: that is the step
	}
	var settled atomic.Bool
	settled.Store(true)
	var wg sync.WaitGroup
	for _, r := range s.Rooms() {
		wg.Go(func() {
			if !k.out(ctx, i, r) {
				settled.Store(false)
			}
		})
	}
	wg.Wait()
	if away && settled.Load() {
		s.Expired()
	} else if !settled.Load() {
		s.Check().Forget()
	}
	s.Return()
}

// settled waits, before client i joins room, until the stream shows it out of the room when
// its client believes it is (a leave whose left reply was lost is finished by the gateway
// after the grace period). A client already in the room joins it again.
func (k *Check) settled(ctx context.Context, i int, room string) bool {
	if k.sessions[i].Room(room).Member == chatclient.In {
		return true
	}
	return k.out(ctx, i, room)
}

// out waits until the stream shows client i out of room (its last presence event there an
// exit, or none), as after a leave, a close with 1000 or an expired grace period.
func (k *Check) out(ctx context.Context, i int, room string) bool {
	k.mu.Lock()
	counted := k.counted[roomOf{i, room}]
	k.mu.Unlock()
	if counted {
		return true // found counted once already: the checker no longer knows, and goes on
	}
	n := k.names[i]
	var last chatclient.Msg
	err := poll.UntilNil(ctx, stepWait, 250*time.Millisecond, func() error {
		var err error
		if last, err = lastPresence(k.c.LBHTTP(), room, n.User, n.Session); err != nil {
			return err
		}
		if last.ID != 0 && last.Type != "remove" && last.Type != "leave" {
			return fmt.Errorf("its last presence event is %s", last)
		}
		return ctx.Err()
	})
	if err != nil {
		k.mu.Lock()
		since := k.exitStep[roomOf{i, room}]
		k.mu.Unlock()
		k.problem("presence: %s is still counted in %s since it left, quit or went away (%s): %v", k.name(i), room, since, err)
		k.mu.Lock()
		k.counted[roomOf{i, room}] = true
		k.mu.Unlock()
		k.sessions[i].Check().Forget()
		return false
	}
	return true
}

// process kills, stops or starts a gateway or NATS node.
func (k *Check) process(s Step) {
	now := time.Now()
	switch s.Op {
	case OpTermGW:
		g := k.c.Gateways[s.Target]
		k.addFault(g.ID, s.Op, now)
		if err := g.Stop(30 * time.Second); err != nil {
			k.problem("%s did not drain and exit on SIGTERM: %v", g.ID, err)
		}
		k.startGateway(s.Target)
	case OpKillGW:
		g := k.c.Gateways[s.Target]
		k.addFault(g.ID, s.Op, now)
		g.Kill()
		if err := k.c.WaitLBServersUp(stepWait); err != nil {
			k.cfg.Logf("%v [%s]", err, k.Where())
		}
	case OpStartGW:
		k.startGateway(s.Target)
	case OpKillNATS:
		k.addFault("", s.Op, now)
		k.c.NATS[s.Target].Kill()
		k.mu.Lock()
		k.natsDown = s.Target
		k.mu.Unlock()
	case OpStartNATS:
		if err := k.c.StartNATS(); err != nil {
			k.problem("NATS node n%d did not come back: %v", s.Target+1, err)
		}
		k.mu.Lock()
		k.natsDown = -1
		k.mu.Unlock()
	}
}

func (k *Check) addFault(gateway string, what Op, at time.Time) {
	k.mu.Lock()
	k.faults = append(k.faults, fault{gateway: gateway, what: what, at: at})
	k.mu.Unlock()
}

func (k *Check) startGateway(i int) {
	if err := k.c.StartGateway(i); err != nil {
		k.problem("%s did not start again: %v", k.c.Gateways[i].ID, err)
		return
	}
	if err := k.c.WaitLBServersUp(stepWait); err != nil {
		k.cfg.Logf("%v [%s]", err, k.Where())
	}
}

// lastPresence returns the newest presence event of user/session in room (zero when none),
// paging back from the newest event.
func lastPresence(base, room, user, session string) (chatclient.Msg, error) {
	var found chatclient.Msg
	err := scanBack(base, room, user, func(e chatclient.Msg) bool {
		if e.Presence() && e.UserID == user && e.SessionID == session {
			found = e
			return true
		}
		return false
	})
	return found, err
}
