package main

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/poll"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// client is one simulated user: one session, reconnected with the same
// session id and resumed with "since" whenever its connection drops.
type client struct {
	r       *runner
	idx     int
	user    string
	session string
	rooms   []*roomState
	pub     *publisher // nil unless this client also publishes
	stats   clientStats

	readyOnce sync.Once // the first join of all rooms, or giving up

	// Owned by the goroutine running serve.
	buf    []byte
	obj    chatclient.Object
	turn   int // added to idx to pick the gateway URL; moves on after a failed dial
	conn   *websocket.Conn
	cctx   context.Context // ends with conn
	evt    chatclient.Object
	frames uint64
}

// roomState is what a client knows of one of its rooms. Owned by its reader.
type roomState struct {
	idx    int
	name   string
	check  chatclient.RoomCheck // ids in order, joined replies; check.Last is the since of a rejoin
	resume bool                 // the join in flight carries since
	tracks map[int]*track       // by publisher id
}

func newClient(r *runner, i int) *client {
	c := &client{r: r, idx: i, user: "load-" + strconv.Itoa(i)}
	c.session = "s-" + r.cfg.RunID + "-" + strconv.Itoa(i)
	for _, ri := range r.cfg.clientRooms(i) {
		name := r.cfg.roomName(ri)
		c.rooms = append(c.rooms, &roomState{idx: ri, name: name, tracks: map[int]*track{},
			check: chatclient.RoomCheck{Name: name, Member: chatclient.Out}})
	}
	return c
}

// errPermanent marks a close the protocol says not to reconnect after.
var errPermanent = errors.New("chatload: gateway refused the session")

// run connects, and reconnects after every drop, until ctx ends.
func (c *client) run(ctx context.Context) {
	defer c.markReady()
	backoff := 50 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		conn, err := c.dial(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.r.tot.dialFailures.Add(1)
			c.r.noteError("dial "+c.user, err)
			c.turn++ // "reconnect to any gateway": try the next one
			jitter := time.Duration(rand.Int64N(int64(backoff)))
			if !poll.Sleep(ctx, backoff/2+jitter) {
				return
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		c.r.tot.dials.Add(1)
		if !first {
			c.stats.reconnects.Add(1)
		}
		first, backoff = false, 50*time.Millisecond
		err = c.serve(ctx, conn)
		if ctx.Err() == nil {
			code := websocket.CloseStatus(err)
			c.r.noteDrop(code)
			if code == websocket.StatusGoingAway {
				c.turn++ // that gateway is draining: go to the next one
			}
		}
		if errors.Is(err, errPermanent) {
			c.r.noteError("session "+c.user, err)
			return
		}
	}
}

func (c *client) markReady() { c.readyOnce.Do(c.r.ready.Done) }

func (c *client) dial(ctx context.Context) (*websocket.Conn, error) {
	u, err := url.Parse(c.r.cfg.clientURL(c.idx + c.turn))
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("session", c.session)
	if secret := c.r.cfg.TokenSecret; secret != "" {
		tok, err := c.token(secret)
		if err != nil {
			return nil, err
		}
		q.Set("token", tok)
	} else {
		q.Set("user", c.user)
	}
	u.RawQuery = q.Encode()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{
		CompressionMode: websocket.CompressionDisabled,
	})
	return conn, err
}

// token is an HS256 JWT for c.user valid well past the end of the run.
func (c *client) token(secret string) (string, error) {
	cfg := c.r.cfg
	exp := time.Now().Add(cfg.ConnectTimeout + cfg.Duration + cfg.Drain + time.Hour)
	claims := jwt.MapClaims{"sub": c.user, "exp": exp.Unix()}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}

// serve joins the client's rooms on conn and reads until the connection ends
// or ctx does; at the end of ctx it closes with 1000 (the session leaves).
func (c *client) serve(ctx context.Context, conn *websocket.Conn) error {
	conn.SetReadLimit(-1)
	defer conn.CloseNow()
	stop := context.AfterFunc(ctx, func() { conn.Close(websocket.StatusNormalClosure, "load done") })
	defer stop()
	connCtx, cancel := context.WithCancel(context.Background())
	var pubDone chan struct{}
	joinedAll := false
	defer func() {
		cancel()
		if pubDone != nil {
			<-pubDone
		}
		if joinedAll {
			c.r.tot.connected.Add(-1)
		}
	}()
	c.conn, c.cctx = conn, connCtx
	for _, rs := range c.rooms {
		rs.check.Dropped(false) // a new connection: no room joined on it yet
	}
	if err := c.sendJoins(connCtx, conn); err != nil {
		return err
	}
	waiting := len(c.rooms)
	for {
		if err := c.readFrame(connCtx, conn); err != nil {
			return closeError(err)
		}
		waiting -= c.handleFrame(c.buf, time.Now())
		if waiting <= 0 && !joinedAll {
			joinedAll = true
			c.r.tot.connected.Add(1)
			c.markReady()
			if c.pub != nil {
				pubDone = make(chan struct{})
				go func() { defer close(pubDone); c.pub.serve(connCtx, conn) }()
			}
		}
	}
}

// closeError turns the close codes that forbid a plain reconnect into errPermanent.
func closeError(err error) error {
	switch websocket.CloseStatus(err) {
	case 4001, 4500, 4501:
		return errors.Join(errPermanent, err)
	}
	return err
}

// sendJoins joins every room: the first time for the latest event only (to
// learn the room's last id), after a drop with since = the last id seen.
func (c *client) sendJoins(ctx context.Context, conn *websocket.Conn) error {
	for _, rs := range c.rooms {
		if err := writeFrame(ctx, conn, c.joinFrame(rs)); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) joinFrame(rs *roomState) []byte {
	frame := append([]byte(nil), `{"type":"join","chatroomId":"`...)
	frame = append(frame, rs.name...)
	frame = append(frame, `","ref":"j`...)
	frame = strconv.AppendInt(frame, int64(rs.idx), 10)
	rs.resume = rs.check.Last > 0
	if rs.resume {
		frame = append(frame, `","since":`...)
		frame = strconv.AppendUint(frame, rs.check.Last, 10)
		return append(frame, '}')
	}
	return append(frame, `","limit":1}`...)
}

// retryJoin sends the join of rs again after a short, jittered pause, on the
// connection being read: the gateway answered unavailable (retry later).
func (c *client) retryJoin(rs *roomState) {
	frame, conn, ctx := c.joinFrame(rs), c.conn, c.cctx
	pause := 100*time.Millisecond + time.Duration(rand.Int64N(int64(400*time.Millisecond)))
	go func() {
		if poll.Sleep(ctx, pause) {
			writeFrame(ctx, conn, frame)
		}
	}()
}

func writeFrame(ctx context.Context, conn *websocket.Conn, frame []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, frame)
}

// readFrame reads the next text frame into c.buf, reusing its memory.
func (c *client) readFrame(ctx context.Context, conn *websocket.Conn) error {
	for {
		typ, r, err := conn.Reader(ctx)
		if err != nil {
			return err
		}
		c.buf = c.buf[:0]
		for {
			if len(c.buf) == cap(c.buf) {
				c.buf = append(c.buf, 0)[:len(c.buf)]
			}
			n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
			c.buf = c.buf[:len(c.buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		if typ == websocket.MessageText {
			c.frames++
			return nil
		}
	}
}
