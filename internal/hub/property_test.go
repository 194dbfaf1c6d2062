package hub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
)

// Random interleavings of joins, replies, leaves, publishes, feed resets and deliveries
// (with duplicates and stale epochs) keep the promise of the protocol: a member sees the
// events of a room after its joined reply, each exactly once, in order, with no gap; and
// every ticket's window is the room's stream between From and Upto.

func TestInterleavings(t *testing.T) {
	for seed := range uint64(40) {
		synctest.Test(t, func(t *testing.T) { runModel(t, seed, 300) })
	}
}

func FuzzInterleavings(f *testing.F) {
	f.Add(uint64(1), uint16(200))
	f.Add(uint64(7), uint16(1000))
	f.Fuzz(func(t *testing.T, seed uint64, steps uint16) {
		synctest.Test(t, func(t *testing.T) { runModel(t, seed, int(steps)) })
	})
}

type key struct {
	c    *conn
	room string
}

// feedState is the model's feed of one room, for the epoch the hub listens to.
type feedState struct {
	epoch  uint64
	ready  bool
	cursor int // how much of the room's stream was delivered
}

// memberView is what one session has seen of one room.
type memberView struct {
	in   bool
	next int // index in the room's stream of the event expected next
}

// inflight is a join the hub has not answered yet.
type inflight struct {
	res   <-chan joinResult
	minID uint64
}

type model struct {
	fx      *fixture
	rng     *rand.Rand
	seq     uint64
	rooms   []string
	stream  map[string][]uint64 // every event id of a room, as the feed would read them
	feeds   map[string]*feedState
	conns   []*conn
	views   map[key]*memberView
	joins   map[key]inflight
	tickets map[key][]Ticket // waiting for Joined, oldest first
}

func runModel(t *testing.T, seed uint64, steps int) {
	m := &model{
		fx:     newFixture(t, Config{Window: 4}),
		rng:    rand.New(rand.NewPCG(seed, 1)),
		rooms:  []string{"a", "b", "c"},
		stream: map[string][]uint64{}, feeds: map[string]*feedState{},
		views: map[key]*memberView{}, joins: map[key]inflight{}, tickets: map[key][]Ticket{},
	}
	for i := range 4 {
		m.conns = append(m.conns, m.fx.conn(fmt.Sprint("u", i%2), fmt.Sprint("s", i), 1<<14))
	}
	ops := []func(){m.publish, m.reset, m.deliver, m.deliver, m.stale, m.join, m.joined, m.joined, m.leave}
	for range steps {
		ops[m.rng.IntN(len(ops))]()
		m.settle()
	}
	m.finish()
}

func (m *model) room() string { return m.rooms[m.rng.IntN(len(m.rooms))] }
func (m *model) conn() *conn  { return m.conns[m.rng.IntN(len(m.conns))] }

// feed returns the model's feed of room while the hub has it started, else nil.
func (m *model) feed(room string) *feedState {
	ep, ok := m.fx.feed.active(room)
	if !ok {
		return nil
	}
	if f := m.feeds[room]; f != nil && f.epoch == ep {
		return f
	}
	m.feeds[room] = &feedState{epoch: ep}
	return m.feeds[room]
}

func (m *model) publish() {
	room := m.room()
	m.seq += 1 + uint64(m.rng.IntN(3)) // other rooms' events fill the gaps
	m.stream[room] = append(m.stream[room], m.seq)
}

func (m *model) reset() {
	room := m.room()
	f := m.feed(room)
	if f == nil || f.ready {
		return
	}
	var last uint64
	if s := m.stream[room]; len(s) > 0 {
		last = s[len(s)-1]
	}
	f.ready, f.cursor = true, len(m.stream[room])
	m.fx.ok(m.fx.h.Reset(room, f.epoch, last))
}

// deliver sends the room's next events, starting a little early to repeat some.
func (m *model) deliver() {
	room := m.room()
	f := m.feed(room)
	if f == nil || !f.ready {
		return
	}
	s := m.stream[room]
	from := max(0, f.cursor-m.rng.IntN(3))
	to := min(len(s), f.cursor+m.rng.IntN(5))
	f.cursor = max(f.cursor, to)
	m.fx.ok(m.fx.h.Deliver(room, f.epoch, evs(room, s[from:to]...)))
}

// stale delivers through a feed the hub does not listen to.
func (m *model) stale() {
	room := m.room()
	if s := m.stream[room]; len(s) > 0 {
		ep := m.fx.feed.epoch(room) + uint64(m.rng.IntN(2))*1000 - 1
		m.fx.ok(m.fx.h.Deliver(room, ep, evs(room, s[len(s)-1])))
	}
}

func (m *model) join() {
	k := key{m.conn(), m.room()}
	if m.joins[k].res != nil {
		return
	}
	var minID uint64
	if m.rng.IntN(2) == 0 { // waits for its own join event
		m.seq++
		m.stream[k.room] = append(m.stream[k.room], m.seq)
		minID = m.seq
	}
	m.joins[k] = inflight{m.fx.joinAsync(context.Background(), k.c, k.room, minID), minID}
}

// joined answers the oldest ticket of a session and room, sometimes with older events.
func (m *model) joined() {
	k := key{m.conn(), m.room()}
	ts := m.tickets[k]
	if len(ts) == 0 {
		return
	}
	tk := ts[0]
	m.tickets[k] = ts[1:]
	r := Reply{Session: k.c.Session, Room: k.room, Gen: tk.Gen, Reply: joinedFrame(k.room, tk.Upto)}
	s := m.stream[k.room]
	if end, ok := slices.BinarySearch(s, tk.From); ok && m.rng.IntN(2) == 0 {
		start := max(0, end-m.rng.IntN(4))
		r.Older = evs(k.room, s[start:end+1]...)
		if start > 0 {
			r.OlderFrom = s[start-1]
		}
	}
	m.fx.ok(m.fx.h.Joined(r))
}

func (m *model) leave() {
	k := key{m.conn(), m.room()}
	m.fx.ok(m.fx.h.Leave(k.c.Session, k.room, &Frame{Data: []byte("left:" + k.room)}))
}

// settle collects the joins that completed and checks what every session received.
func (m *model) settle() {
	for k, j := range m.joins {
		select {
		case r := <-j.res:
			m.took(k, j, r)
		default:
		}
	}
	for _, c := range m.conns {
		for _, f := range c.drain() {
			m.see(c, f)
		}
	}
}

// took records a join's result and checks its ticket's window.
func (m *model) took(k key, j inflight, r joinResult) {
	t := m.fx.t
	delete(m.joins, k)
	if errors.Is(r.err, ErrNotJoined) {
		return
	}
	if r.err != nil {
		t.Fatalf("join %s: %v", k.room, r.err)
	}
	s := m.stream[k.room]
	lo, _ := slices.BinarySearch(s, r.t.From+1)
	hi, _ := slices.BinarySearch(s, r.t.Upto+1)
	var got []uint64
	for _, e := range r.t.Window {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, s[lo:hi]) || len(got) > 2*4 || r.t.Upto < j.minID {
		t.Fatalf("ticket From=%d Upto=%d window %v for minID %d, stream %v", r.t.From, r.t.Upto, got, j.minID, s)
	}
	m.tickets[k] = append(m.tickets[k], r.t)
}

// see checks one frame a session received.
func (m *model) see(c *conn, frame string) {
	t := m.fx.t
	kind, rest, _ := strings.Cut(frame, ":")
	room, arg, _ := strings.Cut(rest, ":")
	if kind != "joined" && kind != "left" {
		room, arg = kind, rest
	}
	v := m.views[key{c, room}]
	if v == nil {
		v = &memberView{}
		m.views[key{c, room}] = v
	}
	n, _ := strconv.ParseUint(arg, 10, 64)
	s := m.stream[room]
	switch kind {
	case "joined":
		v.in = true
		v.next, _ = slices.BinarySearch(s, n+1)
	case "left":
		v.in = false
	default:
		if !v.in || v.next >= len(s) || s[v.next] != n {
			t.Fatalf("%s got %s; member %v, expected index %d of %v", c.Conn, frame, v.in, v.next, s)
		}
		v.next++
	}
}

// finish unregisters everyone and checks that nothing is left behind.
func (m *model) finish() {
	t := m.fx.t
	for _, c := range m.conns {
		m.fx.ok(m.fx.h.Unregister(c.Session))
	}
	for k, j := range m.joins {
		m.took(k, j, <-j.res)
	}
	m.settle()
	for _, c := range m.conns {
		expect(t, c.Conn+" cuts", c.cutCodes(), nil)
	}
	if st := m.fx.stats(); st != (Stats{}) {
		t.Fatalf("stats after everyone left = %+v", st)
	}
	starts, stops := m.fx.feed.calls()
	slices.SortFunc(stops, func(a, b feedCall) int { return int(a.epoch) - int(b.epoch) })
	expect(t, "stops match starts", stops, starts)
	for i := 1; i < len(starts); i++ {
		if starts[i].epoch <= starts[i-1].epoch {
			t.Fatalf("epochs not increasing: %v", starts)
		}
	}
}
