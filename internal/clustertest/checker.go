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
	"github.com/chathub/chathub/internal/poll"
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
	exits    map[roomOf]*span  // exits (remove/leave) expected per client and room
	exitStep map[roomOf]string // the step that made the last of them
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
	k := &Check{cfg: cfg, c: c, planner: NewPlanner(cfg.Seed), exits: map[roomOf]*span{}, exitStep: map[roomOf]string{},
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
	if err := poll.UntilNil(ctx, stepWait, 50*time.Millisecond, func() error {
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
	return poll.Within(ctx, d, 20*time.Millisecond, cond)
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
	k.exitStep[roomOf{i, room}] = *k.where.Load()
}
