package clustertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
)

// CheckConfig shapes a randomized check. Zero values are documented per field.
type CheckConfig struct {
	Seed     uint64        // the schedule's seed
	Duration time.Duration // steps are drawn until this much time has passed; zero means 75s
	Grace    time.Duration // the gateways' --grace; zero means 15s
	Logf     func(format string, args ...any)
}

// Check runs a random schedule (Planner) on a cluster while every client checks what it
// receives (chatclient.Session), then brings everything back and checks the end state:
// every acknowledged message exactly once and in order for every client in its room,
// presence events exactly once per change, the expected close codes, and every client in
// every room it wants, receiving new messages. See CheckCluster.
type Check struct {
	cfg      CheckConfig
	c        *Cluster
	names    []ClientName // the schedule's clients (checkerClients), then the chatters
	sessions []*chatclient.Session
	planner  *Planner
	where    atomic.Pointer[string] // the step running, for problem notes
	started  time.Time

	mu       sync.Mutex // guards everything below
	steps    []Step
	faults   []fault
	exits    map[roomOf]*span // exits (remove/leave) expected per client and room
	awayAt   map[int]time.Time
	stuck    map[int]bool    // clients that did not get back into their rooms once: not waited for again
	counted  map[roomOf]bool // clients the stream kept counting in a room they left: not waited for again
	natsDown int
	problems []string
}

// fault is a process failure the checker caused.
type fault struct {
	gateway string // gateway id, or "" for a NATS node
	what    Op
	at      time.Time
}

// roomOf is a client's membership of a room.
type roomOf struct {
	client int
	room   string
}

// span is an expected count, at least min and at most max.
type span struct{ min, max int }

const (
	stepWait  = 90 * time.Second  // how long a step waits for its client or process
	finalWait = 180 * time.Second // how long the end waits for everything to settle
	pacing    = 100 * time.Millisecond
	// chatterRate is the messages per second each chatter posts.
	chatterRate = 3
)

// CheckCluster runs a randomized check on c (started with CheckOptions) and returns what it
// found wrong, each problem naming the client, room, ids and schedule step.
func CheckCluster(ctx context.Context, c *Cluster, cfg CheckConfig) []string {
	if cfg.Duration == 0 {
		cfg.Duration = 75 * time.Second
	}
	if cfg.Grace == 0 {
		cfg.Grace = 15 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	k := &Check{cfg: cfg, c: c, planner: NewPlanner(cfg.Seed), exits: map[roomOf]*span{},
		awayAt: map[int]time.Time{}, stuck: map[int]bool{}, counted: map[roomOf]bool{}, natsDown: -1, started: time.Now()}
	k.setWhere("start")
	return k.run(ctx)
}

// CheckOptions are the cluster options a check needs: its grace period, and room in the
// stream for a long run.
func CheckOptions(grace time.Duration) Options {
	if grace == 0 {
		grace = 15 * time.Second
	}
	return Options{Grace: grace, GatewayArgs: []string{"--history-depth", "1000000"}}
}

func (k *Check) setWhere(s string) { k.where.Store(&s) }

// Where names the step running (and the seed), for problem notes.
func (k *Check) Where() string {
	return fmt.Sprintf("seed %d, %s", k.cfg.Seed, *k.where.Load())
}

func (k *Check) run(ctx context.Context) []string {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	k.names = slices.Clone(checkerClients)
	for _, n := range k.names {
		s := chatclient.New(chatclient.Config{URL: k.c.LBWS(), User: n.User, Session: n.Session,
			Reconnect: true, Where: k.Where})
		k.sessions = append(k.sessions, s)
		wg.Go(func() { s.Run(ctx) })
	}
	// A chatter in each public room posts all along, so that joins, rejoins and failures
	// meet events in flight. They are checked like the others.
	for _, room := range checkerRooms {
		n := ClientName{User: "t" + room, Session: "s0"}
		s := chatclient.New(chatclient.Config{URL: k.c.LBWS(), User: n.User, Session: n.Session, Rooms: []string{room},
			Reconnect: true, Where: k.Where, Publish: room, Rate: chatterRate, InFlight: 8})
		s.SetPublishing(true)
		k.names = append(k.names, n)
		k.sessions = append(k.sessions, s)
		wg.Go(func() { s.Run(ctx) })
	}
	if err := poll(stepWait, 50*time.Millisecond, func() error {
		for i, s := range k.sessions {
			if !s.Connected() {
				return fmt.Errorf("%s not connected", k.name(i))
			}
		}
		return nil
	}); err != nil {
		return []string{"clients did not connect: " + err.Error()}
	}
	sched, err := os.Create(filepath.Join(k.c.Dir, "schedule.txt"))
	if err == nil {
		defer sched.Close()
	}
	for time.Since(k.started) < k.cfg.Duration && ctx.Err() == nil {
		k.exec(ctx, k.planner.Next(), sched)
	}
	for _, s := range k.planner.Finish() {
		k.exec(ctx, s, sched)
	}
	k.setWhere(fmt.Sprintf("end, after step %d", len(k.steps)))
	k.cfg.Logf("seed %d: %d steps in %v; checking the end state", k.cfg.Seed, len(k.steps), time.Since(k.started).Round(time.Second))
	k.finish(ctx)
	k.summary()
	k.mu.Lock()
	defer k.mu.Unlock()
	problems := slices.Clone(k.problems)
	for _, s := range k.sessions {
		problems = append(problems, s.Stats().Problems...)
	}
	return problems
}

// summary logs what each client went through.
func (k *Check) summary() {
	for i, s := range k.sessions {
		st := s.Stats()
		k.cfg.Logf("%s: %d connections (gateways %v), closes %v, sent %d, resent %d, acked %d, errors %v, rooms %v",
			k.name(i), st.Conns, st.Gateways, st.Closes, st.Sent, st.Resent, len(s.Acked()), st.Errors, s.Rooms())
	}
}

// exec runs one step.
func (k *Check) exec(ctx context.Context, s Step, sched *os.File) {
	k.setWhere(s.String())
	k.mu.Lock()
	k.steps = append(k.steps, s)
	k.mu.Unlock()
	line := fmt.Sprintf("%s  (at %v)", s, time.Since(k.started).Round(time.Millisecond))
	if sched != nil {
		fmt.Fprintln(sched, line)
	}
	k.cfg.Logf("%s", line)
	switch s.Op {
	case OpJoin:
		k.join(ctx, s.Client, s.Room, s.Since)
	case OpJoins:
		k.joins(ctx, s)
	case OpLeave:
		k.leave(ctx, s)
	case OpMessage:
		k.message(ctx, s)
	case OpPrivate:
		k.private(ctx, s)
	case OpReconnect:
		if k.ready(ctx, s.Client) {
			k.sessions[s.Client].Cut()
		}
	case OpTakeover:
		if k.ready(ctx, s.Client) {
			k.sessions[s.Client].Takeover()
		}
	case OpAway:
		k.away(ctx, s.Client)
	case OpReturn:
		k.comeBack(ctx, s.Client, true)
	case OpQuit:
		k.quit(ctx, s.Client)
	case OpBack:
		k.comeBack(ctx, s.Client, false)
	case OpTermGW, OpKillGW, OpStartGW, OpKillNATS, OpStartNATS:
		k.process(s)
	case OpPause:
		time.Sleep(time.Duration(s.Count) * 100 * time.Millisecond) // pacing, as the schedule says
	}
	time.Sleep(pacing) // pacing between steps; nothing waits on it
}

func (k *Check) name(i int) string { return k.names[i].User + "/" + k.names[i].Session }

// problem records a problem found by the checker itself, at the running step.
func (k *Check) problem(format string, args ...any) {
	p := fmt.Sprintf(format, args...) + " [" + k.Where() + "]"
	k.mu.Lock()
	k.problems = append(k.problems, p)
	k.mu.Unlock()
	k.cfg.Logf("PROBLEM %s", p)
}

// ready waits until client i is connected and in all its rooms; a client that is not, after
// a generous wait, is a problem (the step is skipped).
// A client found stuck once is not waited for again (its steps are skipped until it is back),
// so that one stuck client does not stretch the run by a wait per step.
func (k *Check) ready(ctx context.Context, i int) bool {
	s := k.sessions[i]
	k.mu.Lock()
	stuck := k.stuck[i]
	k.mu.Unlock()
	if stuck && !s.Joined() {
		k.cfg.Logf("%s is still not back in its rooms: step skipped [%s]", k.name(i), k.Where())
		return false
	}
	if err := k.waitFor(ctx, stepWait, s.Joined); err != nil {
		k.problem("%s is not back in its rooms after %v (connected %v, gateway %s, rooms %v, joined %v)",
			k.name(i), stepWait, s.Connected(), s.Gateway(), s.Rooms(), k.joinedRooms(i))
		k.mu.Lock()
		k.stuck[i] = true
		k.mu.Unlock()
		return false
	}
	k.mu.Lock()
	k.stuck[i] = false
	k.mu.Unlock()
	return true
}

func (k *Check) joinedRooms(i int) []string {
	var out []string
	for _, r := range k.sessions[i].Rooms() {
		if k.sessions[i].InRoom(r) {
			out = append(out, r)
		}
	}
	return out
}

func (k *Check) waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// room resolves a step's room for client i: "dm:<user>" is the private room with user.
func (k *Check) room(i int, room string) (string, bool) {
	if peer, ok := strings.CutPrefix(room, "dm:"); ok {
		return k.sessions[i].PrivateWith(peer)
	}
	return room, true
}

func (k *Check) expectExits(i int, room string, min, max int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	sp := k.exits[roomOf{i, room}]
	if sp == nil {
		sp = &span{}
		k.exits[roomOf{i, room}] = sp
	}
	sp.min += min
	sp.max += max
}

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
	err := poll(stepWait, 250*time.Millisecond, func() error {
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
		k.problem("presence: %s is still counted in %s after it left, quit or went away: %v", k.name(i), room, err)
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
