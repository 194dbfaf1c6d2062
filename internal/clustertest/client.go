package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/coder/websocket"
)

// Frame is one object a gateway sent, decoded loosely.
type Frame struct {
	Type       string              `json:"type"`
	Ref        string              `json:"ref"`
	ID         uint64              `json:"id"`
	ChatroomID string              `json:"chatroomId"`
	UserID     string              `json:"userId"`
	SessionID  string              `json:"sessionId"`
	Message    string              `json:"message"`
	Code       string              `json:"code"`
	GatewayID  string              `json:"gatewayId"`
	Peer       string              `json:"peer"`
	Private    bool                `json:"private"`
	Recovered  bool                `json:"recovered"`
	Events     []Frame             `json:"events"`
	Users      []protocol.UserInfo `json:"users"`
	Rooms      []protocol.RoomInfo `json:"rooms"`
}

// ClientConfig is one chat session. Zero values are documented per field.
type ClientConfig struct {
	URL       string   // a gateway's (or the load balancer's) /ws URL
	User      string   // required
	Session   string   // zero means User
	Rooms     []string // joined on connect, rejoined with since after a reconnect
	Reconnect bool     // reconnect (with backoff) after every drop; false: stop at the first
	Publish   string   // a room of Rooms this client posts to while publishing is on
	Rate      float64  // messages per second while publishing; zero means 10
	InFlight  int      // unacknowledged messages at most; zero means 32
}

// Client is a chat session that reconnects, rejoins with since, publishes with refs, resends
// what was not acknowledged, and checks every event it receives: within a room, ids strictly
// increase (no duplicate, nothing backwards), and a rejoin is recovered.
type Client struct {
	cfg Config

	mu           sync.Mutex // guards everything below
	conns        int
	dialFailures int
	gateways     []string // welcome.gatewayId of each connection
	closes       map[int]int
	rooms        map[string]*RoomLog
	replies      map[string]chan Frame
	nextRef      int
	notices      map[string]int // "type user" (online/offline) and "type user room" (presence events)
	errors       map[string]int // error codes of replies to messages
	problems     []string
	publishing   bool
	pub          publisher
	conn         *websocket.Conn
}

// Config is ClientConfig with defaults.
type Config = ClientConfig

// RoomLog is what a client has seen of one room.
type RoomLog struct {
	Start  uint64   // the newest id in the first joined reply: the client expects everything after
	Last   uint64   // the newest id seen
	Msgs   []uint64 // ids of message events after Start, in the order received
	joined bool     // on the current connection
	begun  bool     // the first joined has come
}

// NewClient makes a client; Run connects it.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Session == "" {
		cfg.Session = cfg.User
	}
	if cfg.Rate == 0 {
		cfg.Rate = 10
	}
	if cfg.InFlight == 0 {
		cfg.InFlight = 32
	}
	c := &Client{cfg: cfg, closes: map[int]int{}, rooms: map[string]*RoomLog{},
		replies: map[string]chan Frame{}, notices: map[string]int{}, errors: map[string]int{},
		pub: publisher{pending: map[string]*pendingMsg{}, acked: map[string]uint64{}}}
	for _, r := range cfg.Rooms {
		c.rooms[r] = &RoomLog{}
	}
	return c
}

// User is the client's user id.
func (c *Client) User() string { return c.cfg.User }

// Run connects and serves until ctx ends (closing with 1000), or until the first drop when
// the client does not reconnect.
func (c *Client) Run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := c.dial(ctx)
		if err != nil {
			c.mu.Lock()
			c.dialFailures++
			c.mu.Unlock()
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		err = c.serve(ctx, conn)
		c.mu.Lock()
		c.closes[int(websocket.CloseStatus(err))]++
		c.conn = nil
		for _, rl := range c.rooms {
			rl.joined = false
		}
		c.mu.Unlock()
		if !c.cfg.Reconnect {
			return
		}
	}
}

func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	q := url.Values{"user": {c.cfg.User}, "session": {c.cfg.Session}}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, c.cfg.URL+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(-1)
	return conn, nil
}

// serve joins the rooms on conn, publishes while publishing is on, and reads until the
// connection ends.
func (c *Client) serve(ctx context.Context, conn *websocket.Conn) error {
	defer conn.CloseNow()
	stop := context.AfterFunc(ctx, func() { conn.Close(websocket.StatusNormalClosure, "done") })
	defer stop()
	connCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.mu.Lock()
	c.conn = conn
	c.conns++
	var joins [][]byte
	for _, r := range c.cfg.Rooms {
		joins = append(joins, c.joinFrame(r, c.rooms[r]))
	}
	c.mu.Unlock()
	for _, j := range joins {
		if err := write(connCtx, conn, j); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	if c.cfg.Publish != "" {
		wg.Go(func() { c.publish(connCtx, conn) })
	}
	defer wg.Wait()
	defer cancel()
	for {
		_, data, err := conn.Read(connCtx)
		if err != nil {
			return err
		}
		for part := range bytes.SplitSeq(data, []byte("\n")) {
			if len(bytes.TrimSpace(part)) == 0 {
				continue
			}
			var f Frame
			if err := json.Unmarshal(part, &f); err != nil {
				c.note("bad JSON %q: %v", part, err)
				continue
			}
			c.handle(f)
		}
	}
}

func (c *Client) joinFrame(room string, rl *RoomLog) []byte {
	if rl.begun {
		return fmt.Appendf(nil, `{"type":"join","chatroomId":%q,"since":%d}`, room, rl.Last)
	}
	return fmt.Appendf(nil, `{"type":"join","chatroomId":%q,"limit":1}`, room)
}

func write(ctx context.Context, conn *websocket.Conn, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, b)
}

func (c *Client) handle(f Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch := c.replies[f.Ref]; ch != nil && f.Ref != "" {
		delete(c.replies, f.Ref)
		ch <- f
	}
	switch f.Type {
	case "welcome":
		c.gateways = append(c.gateways, f.GatewayID)
	case "joined":
		c.joined(f)
	case "ack":
		c.acked(f)
	case "error":
		if p := c.pub.pending[f.Ref]; p != nil {
			c.errors[f.Code]++
			p.retryAt = time.Now().Add(200 * time.Millisecond)
		}
	case "close":
		c.notices["close"]++
	case "online", "offline":
		c.notices[f.Type+" "+f.UserID]++
	case "message", "join", "add", "remove", "leave":
		c.event(f, true)
	}
}

func (c *Client) joined(f Frame) {
	rl := c.rooms[f.ChatroomID]
	if rl == nil {
		return
	}
	if rl.begun && !f.Recovered {
		c.note("%s: rejoin of %s since %d not recovered", c.cfg.User, f.ChatroomID, rl.Last)
	}
	first := !rl.begun
	rl.joined, rl.begun = true, true
	for _, e := range f.Events {
		if first {
			rl.Start, rl.Last = max(rl.Start, e.ID), max(rl.Last, e.ID)
			continue
		}
		c.event(e, false)
	}
}

// event checks and records one stored event of a room.
func (c *Client) event(f Frame, live bool) {
	rl := c.rooms[f.ChatroomID]
	if rl == nil {
		return
	}
	if live && !rl.joined {
		c.note("%s: live %s %d of %s before its joined", c.cfg.User, f.Type, f.ID, f.ChatroomID)
	}
	if f.ID <= rl.Last {
		c.note("%s: %s: id %d after %d (duplicate or backwards)", c.cfg.User, f.ChatroomID, f.ID, rl.Last)
		return
	}
	rl.Last = f.ID
	if f.Type == "message" {
		rl.Msgs = append(rl.Msgs, f.ID)
		return
	}
	c.notices[f.Type+" "+f.UserID+" "+f.ChatroomID]++
}

// Request sends cmd with a fresh ref on the current connection and returns the reply.
func (c *Client) Request(ctx context.Context, cmd map[string]any) (Frame, error) {
	c.mu.Lock()
	conn := c.conn
	c.nextRef++
	ref := "q" + strconv.Itoa(c.nextRef)
	ch := make(chan Frame, 1)
	c.replies[ref] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.replies, ref)
		c.mu.Unlock()
	}()
	if conn == nil {
		return Frame{}, errors.New("clustertest: not connected")
	}
	cmd["ref"] = ref
	b, err := json.Marshal(cmd)
	if err != nil {
		return Frame{}, err
	}
	if err := write(ctx, conn, b); err != nil {
		return Frame{}, err
	}
	select {
	case f := <-ch:
		return f, nil
	case <-ctx.Done():
		return Frame{}, fmt.Errorf("clustertest: no reply to %s: %w", b, ctx.Err())
	}
}

func (c *Client) note(format string, args ...any) {
	if len(c.problems) < 50 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
