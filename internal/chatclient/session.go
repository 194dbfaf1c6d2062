package chatclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/poll"
	"github.com/coder/websocket"
)

// Config shapes a Session. Zero values are documented per field.
type Config struct {
	URL       string        // a gateway's (or the load balancer's) /ws URL
	User      string        // required
	Session   string        // zero means User
	Rooms     []string      // joined on connect, rejoined with since after a reconnect
	Reconnect bool          // reconnect (with backoff) after every drop; false: stop at the first
	Publish   string        // a room of Rooms posted to while publishing is on
	Rate      float64       // messages per second while publishing; zero: as fast as InFlight allows
	InFlight  int           // unacknowledged messages at most; zero means 32
	JoinLimit int           // limit of a join without since; zero: the gateway's default
	Where     func() string // names the moment in problems (a schedule step); zero: nothing
}

// ConnLog is one connection of a Session.
type ConnLog struct {
	Gen     int                  // the session's connection number, from 1
	Gateway string               // welcome.gatewayId; empty until the welcome
	Opened  time.Time            // when it was dialled
	Ended   time.Time            // zero while it is open
	Code    int                  // the close code it ended with; -1 when cut without one
	Cause   string               // what the client did to end it: cut, away, quit, takeover, stop; empty: not the client
	Err     string               // the dial error, for a dial that failed
	Joined  map[string]time.Time // when each room's joined reply came on it
	Left    map[string]time.Time // when each room was left on it (left reply, or given up)
}

// Session is a chat session that lives across connections: it reconnects with the same
// session id and rejoins its rooms with since, posts with refs and sends again what was
// not acknowledged, and checks everything it receives (Checker). Its methods are safe for
// concurrent use; Run serves it.
type Session struct {
	cfg   Config
	check *Checker

	takeoverc chan struct{} // Takeover asks Run's connection loop for a new connection
	kick      chan struct{} // wakes the publisher (a post, an ack, a joined room)

	mu         sync.Mutex // guards everything below
	conn       *Conn      // the current connection; nil between connections
	gen        int        // the current connection's number; objects of older ones are ignored
	wanted     []string   // rooms the session is (to be) in, in the order joined
	privates   map[string]string
	joinRefs   map[string]string // ref of a join in flight → its room
	refs       int
	hold       chan struct{} // not nil: Run does not connect until it is closed (Away, Quit)
	fresh      bool          // the next joins are first joins, without since (after Quit)
	conns      []*ConnLog
	replaced   []*Conn // connections taken over, until they end
	closes     map[int]int
	failures   int // dials that failed
	notices    map[string]int
	errors     map[string]int
	pub        publisher
	publishing bool
}

// New makes a Session; Run connects it.
func New(cfg Config) *Session {
	if cfg.Session == "" {
		cfg.Session = cfg.User
	}
	if cfg.InFlight == 0 {
		cfg.InFlight = 32
	}
	s := &Session{cfg: cfg, takeoverc: make(chan struct{}, 1), kick: make(chan struct{}, 1),
		wanted: slices.Clone(cfg.Rooms), privates: map[string]string{}, joinRefs: map[string]string{},
		closes: map[int]int{}, notices: map[string]int{}, errors: map[string]int{},
		pub: publisher{pending: map[string]*pendingMsg{}, acked: map[string]Acked{}}}
	s.check = NewChecker(CheckerConfig{User: cfg.User, Session: cfg.Session, Fresh: true, Keep: true, Where: cfg.Where})
	return s
}

// User is the session's user id; ID its session id.
func (s *Session) User() string { return s.cfg.User }

// ID is the session id.
func (s *Session) ID() string { return s.cfg.Session }

// Check is the session's checker.
func (s *Session) Check() *Checker { return s.check }

// Run connects and serves until ctx ends (closing with 1000: the session leaves), or until
// the first drop when the session does not reconnect.
func (s *Session) Run(ctx context.Context) {
	defer s.closeReplaced()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if !s.waitHold(ctx) {
			return
		}
		c, gen, err := s.connect(ctx)
		if err != nil {
			if !poll.Sleep(ctx, backoff/2+rand.N(backoff)) {
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		s.serve(ctx, c, gen)
		if !s.cfg.Reconnect {
			return
		}
	}
}

// connect dials a new connection and sends the joins of the wanted rooms on it. From the
// moment it starts, objects of the previous connection are ignored: a connection taken
// over is done with.
func (s *Session) connect(ctx context.Context) (*Conn, int, error) {
	s.mu.Lock()
	s.gen++
	gen := s.gen
	s.check.Dropped(false)
	var joins [][]byte
	for _, room := range s.wanted {
		joins = append(joins, s.joinFrame(room, !s.fresh))
	}
	l := &ConnLog{Gen: gen, Opened: time.Now(), Code: -1, Joined: map[string]time.Time{}, Left: map[string]time.Time{}}
	s.conns = append(s.conns, l)
	s.mu.Unlock()

	c, err := Dial(ctx, s.cfg.URL, s.cfg.User, s.cfg.Session, Options{OnMsg: func(m Msg) { s.handle(gen, m) }})
	s.mu.Lock()
	if err != nil {
		s.failures++
		l.Ended, l.Err = time.Now(), err.Error()
		s.mu.Unlock()
		return nil, 0, err
	}
	s.conn, s.fresh = c, false
	if s.hold != nil { // Away or Quit came while dialling
		l.Cause = "away"
		c.Cut()
	}
	s.mu.Unlock()
	for _, j := range joins {
		if err := s.sendJoin(ctx, c, j); err != nil {
			break // the connection ended; serve sees it
		}
	}
	return c, gen, nil
}

// joinFrame makes the join of room (since the last id received, when asked and known) and
// remembers its ref. Called with mu held.
func (s *Session) joinFrame(room string, since bool) []byte {
	s.refs++
	ref := "j" + strconv.Itoa(s.refs)
	s.joinRefs[ref] = room
	if last, ok := s.check.Rejoin(room); ok && since {
		return fmt.Appendf(nil, `{"type":"join","chatroomId":%q,"since":%d,"ref":%q}`, room, last, ref)
	}
	if s.cfg.JoinLimit > 0 {
		return fmt.Appendf(nil, `{"type":"join","chatroomId":%q,"limit":%d,"ref":%q}`, room, s.cfg.JoinLimit, ref)
	}
	return fmt.Appendf(nil, `{"type":"join","chatroomId":%q,"ref":%q}`, room, ref)
}

// sendJoin writes a join, shown to the checker first.
func (s *Session) sendJoin(ctx context.Context, c *Conn, b []byte) error {
	s.check.Sent(b)
	return s.send(ctx, c, b)
}

// send writes a command.
func (s *Session) send(ctx context.Context, c *Conn, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return c.WS.Write(wctx, websocket.MessageText, b)
}

// serve serves connection c until it ends, moving to a new one when taken over.
func (s *Session) serve(ctx context.Context, c *Conn, gen int) {
	for {
		stop := context.AfterFunc(ctx, func() { s.closeWith(c, gen, "stop", websocket.StatusNormalClosure) })
		pctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { s.publish(pctx, c, gen) })
		var next *Conn
		var ngen int
		select {
		case <-c.Done():
		case <-s.takeoverc:
			var err error
			if next, ngen, err = s.connect(ctx); err != nil {
				// Taken over by nothing: the client cuts the connection itself and
				// reconnects as after a drop. Its end is the client's doing, whatever the
				// code (the checker saw this as an unexplained cut during a NATS kill).
				s.mu.Lock()
				s.conns[gen-1].Cause = "cut"
				s.mu.Unlock()
				c.Cut()
			}
		}
		stop()
		cancel()
		wg.Wait()
		if next == nil {
			<-c.Done()
			s.ended(c, gen)
			return
		}
		s.mu.Lock()
		s.conns[gen-1].Cause = "takeover"
		s.replaced = append(s.replaced, c)
		s.mu.Unlock()
		go func(c *Conn, gen int) { <-c.Done(); s.ended(c, gen) }(c, gen)
		c, gen = next, ngen
	}
}

// ended records the end of connection gen.
func (s *Session) ended(c *Conn, gen int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.conns[gen-1]
	l.Ended, l.Code = time.Now(), int(c.CloseCode())
	s.closes[l.Code]++
	s.replaced = slices.DeleteFunc(s.replaced, func(r *Conn) bool { return r == c })
	if s.conn == c {
		s.conn = nil
	}
	if gen == s.gen {
		s.check.Dropped(l.Cause == "quit" || l.Cause == "stop")
		for ref := range s.joinRefs {
			delete(s.joinRefs, ref)
		}
	}
}

func (s *Session) closeReplaced() {
	s.mu.Lock()
	rs := slices.Clone(s.replaced)
	s.mu.Unlock()
	for _, c := range rs {
		c.Cut()
	}
}

// closeWith ends connection gen as the client: with code, or cut when code is -1.
func (s *Session) closeWith(c *Conn, gen int, cause string, code websocket.StatusCode) {
	s.mu.Lock()
	if s.conns[gen-1].Cause == "" {
		s.conns[gen-1].Cause = cause
	}
	s.mu.Unlock()
	if code < 0 {
		c.Cut()
		return
	}
	c.Close(code)
}

// handle takes one object of connection gen, on its reading goroutine.
func (s *Session) handle(gen int, m Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return // a connection taken over
	}
	s.check.Received(m)
	switch m.Type {
	case "welcome":
		s.conns[gen-1].Gateway = m.GatewayID
	case "joined":
		delete(s.joinRefs, m.Ref)
		if _, ok := s.conns[gen-1].Joined[m.ChatroomID]; !ok {
			s.conns[gen-1].Joined[m.ChatroomID] = time.Now()
		}
		if m.Private && !slices.Contains(s.wanted, m.ChatroomID) {
			s.wanted = append(s.wanted, m.ChatroomID)
		}
		if m.Private {
			s.privates[m.Peer] = m.ChatroomID
		}
		s.wake()
	case "left":
		s.conns[gen-1].Left[m.ChatroomID] = time.Now()
	case "ack":
		s.acked(m)
	case "error":
		s.onError(gen, m)
	case "close":
		s.notices["close"]++
	case "online", "offline":
		s.notices[m.Type+" "+m.UserID]++
	default:
		if m.Stored() && m.Presence() {
			s.notices[m.Type+" "+m.UserID+" "+m.ChatroomID]++
		}
	}
}

// onError handles an error reply: a join refused is tried again when that may help; a
// message refused is sent again later. Called with mu held.
func (s *Session) onError(gen int, m Msg) {
	room, ok := s.joinRefs[m.Ref]
	if !ok {
		s.refused(m)
		return
	}
	delete(s.joinRefs, m.Ref)
	s.errors["join "+m.Code]++
	if m.Code != "unavailable" {
		s.check.Note(room, "join refused on %s (connection %d): %s", s.conns[gen-1].Gateway, gen, m)
	}
	if !slices.Contains(s.wanted, room) || (m.Code != "unavailable" && m.Code != "internal" && m.Code != "rate_limited") {
		return
	}
	go func() {
		time.Sleep(200*time.Millisecond + rand.N(300*time.Millisecond))
		s.rejoin(gen, room)
	}()
}

// rejoin sends the join of room again on connection gen, if it is still the current one
// and the room is still wanted and not joined.
func (s *Session) rejoin(gen int, room string) {
	s.mu.Lock()
	c := s.conn
	if gen != s.gen || c == nil || !slices.Contains(s.wanted, room) || s.check.Joined(room) {
		s.mu.Unlock()
		return
	}
	frame := s.joinFrame(room, true)
	s.mu.Unlock()
	s.sendJoin(context.Background(), c, frame)
}

func (s *Session) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
