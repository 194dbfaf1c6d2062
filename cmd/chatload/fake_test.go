package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// fakeGateway speaks the subset of PROTOCOL.md that chatload uses (welcome,
// join with since/limit, message with ack and ref dedup, live events), and
// can be told to drop, duplicate or hold back a message for one receiver, or
// to cut every connection after storing a message (before acking it).
type fakeGateway struct {
	srv *httptest.Server

	mu      sync.Mutex
	nextID  int64
	rooms   map[string]*fakeRoom
	conns   map[*fakeConn]bool
	refs    map[string]int64 // user/session/ref -> id
	fault   func(user string, n int) faultAction
	metrics func() string
}

type faultAction int

const (
	deliver faultAction = iota
	drop                // this receiver never gets it
	dup                 // this receiver gets it twice
	hold                // this receiver gets it after the next one, in one frame
	cut                 // store it, then cut every connection: no ack, no fan-out
	refuse              // answer rate_limited and store nothing (asked with user "?")
)

type fakeRoom struct {
	events  [][]byte             // stored events; id = position in nextID order
	ids     []int64              // ids of events
	members map[string]*fakeConn // by user/session; nil while disconnected
	count   int                  // messages stored
}

type fakeConn struct {
	key, user, session string
	conn               *websocket.Conn
	held               []byte
}

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{rooms: map[string]*fakeRoom{}, conns: map[*fakeConn]bool{}, refs: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", g.serveWS)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		if g.metrics != nil {
			fmt.Fprint(w, g.metrics())
		}
	})
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) url() string { return "ws" + g.srv.URL[len("http"):] + "/ws" }

func (g *fakeGateway) connected() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

func (g *fakeGateway) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	user, session := r.URL.Query().Get("user"), r.URL.Query().Get("session")
	if tok := r.URL.Query().Get("token"); tok != "" {
		user = tokenUser(tok)
	}
	c := &fakeConn{key: user + "/" + session, user: user, session: session, conn: conn}
	g.mu.Lock()
	g.conns[c] = true
	g.mu.Unlock()
	defer g.forget(c)
	c.write(fmt.Sprintf(`{"type":"welcome","userId":%q,"sessionId":%q,"gatewayId":"fake"}`, user, session))
	for {
		_, data, err := conn.Read(context.Background())
		if err != nil {
			return
		}
		var cmd struct {
			Type, ChatroomID, Ref, Message string
			Since                          *int64
			Limit                          int
		}
		if json.Unmarshal(data, &cmd) != nil {
			c.write(`{"type":"error","code":"bad_request"}`)
			continue
		}
		switch cmd.Type {
		case "join":
			g.join(c, cmd.ChatroomID, cmd.Ref, cmd.Since, cmd.Limit)
		case "message":
			g.message(c, cmd.ChatroomID, cmd.Ref, cmd.Message)
		}
	}
}

func (g *fakeGateway) forget(c *fakeConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c)
	for _, room := range g.rooms {
		if room.members[c.key] == c {
			room.members[c.key] = nil
		}
	}
}

func (c *fakeConn) write(frame string) {
	c.conn.Write(context.Background(), websocket.MessageText, []byte(frame))
}

// store adds an event to room under g.mu and returns it with its id.
func (g *fakeGateway) store(room *fakeRoom, name, typ, user, msg string) (int64, string) {
	g.nextID++
	ev := fmt.Sprintf(`{"id":%d,"chatroomId":%q,"type":%q,"userId":%q`, g.nextID, name, typ, user)
	if typ == "message" {
		ev += fmt.Sprintf(`,"message":%q`, msg)
	} else {
		ev += fmt.Sprintf(`,"sessionId":%q`, msg) // a presence event: msg is the session
	}
	ev += `,"unixTime":1795341661}`
	room.events = append(room.events, []byte(ev))
	room.ids = append(room.ids, g.nextID)
	return g.nextID, ev
}

func (g *fakeGateway) join(c *fakeConn, name, ref string, since *int64, limit int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	room := g.rooms[name]
	if room == nil {
		room = &fakeRoom{members: map[string]*fakeConn{}}
		g.rooms[name] = room
	}
	if _, ok := room.members[c.key]; !ok {
		_, ev := g.store(room, name, "join", c.user, c.session)
		for _, m := range room.members {
			if m != nil {
				m.write(ev)
			}
		}
	}
	room.members[c.key] = c
	from := max(0, len(room.events)-max(limit, 1))
	if since != nil {
		from = len(room.events)
		for from > 0 && room.ids[from-1] > *since {
			from--
		}
	}
	out := fmt.Sprintf(`{"type":"joined","ref":%q,"chatroomId":%q,"recovered":true,"events":[`, ref, name)
	for i, ev := range room.events[from:] {
		if i > 0 {
			out += ","
		}
		out += string(ev)
	}
	c.write(out + "]}\n") // a trailing newline is allowed
}

func (g *fakeGateway) message(c *fakeConn, name, ref, msg string) {
	g.mu.Lock()
	room := g.rooms[name]
	if room == nil || room.members[c.key] != c {
		g.mu.Unlock()
		c.write(fmt.Sprintf(`{"type":"error","ref":%q,"code":"not_member"}`, ref))
		return
	}
	if id, ok := g.refs[c.key+"/"+ref]; ok {
		g.mu.Unlock()
		c.write(fmt.Sprintf(`{"type":"ack","ref":%q,"chatroomId":%q,"id":%d}`, ref, name, id))
		return
	}
	if g.fault != nil && g.fault("?", room.count+1) == refuse {
		g.mu.Unlock()
		c.write(fmt.Sprintf(`{"type":"error","ref":%q,"code":"rate_limited","message":"slow down"}`, ref))
		return
	}
	id, ev := g.store(room, name, "message", c.user, msg)
	g.refs[c.key+"/"+ref] = id
	room.count++
	if g.fault != nil && g.fault("", room.count) == cut {
		// Under the lock, so that nobody receives a later event live and
		// skips this one: a real gateway that dies takes all with it.
		for fc := range g.conns {
			fc.conn.CloseNow()
		}
		g.mu.Unlock()
		return
	}
	defer g.mu.Unlock()
	c.write(fmt.Sprintf(`{"type":"ack","ref":%q,"chatroomId":%q,"id":%d}`, ref, name, id))
	for _, m := range room.members {
		if m != nil {
			g.deliver(m, ev, room.count)
		}
	}
}

// deliver sends a live message event to m, applying the test's fault.
func (g *fakeGateway) deliver(m *fakeConn, ev string, n int) {
	action := deliver
	if g.fault != nil {
		action = g.fault(m.user, n)
	}
	switch action {
	case drop:
		return
	case hold:
		m.held = []byte(ev)
		return
	case dup:
		m.write(ev + "\n" + ev)
		return
	}
	if m.held != nil {
		ev += "\n" + string(m.held)
		m.held = nil
	}
	m.write(ev)
}

// tokenUser is the sub of an HS256 token signed with fakeSecret, or "".
func tokenUser(tok string) string {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(fakeSecret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	sub, _ := claims.GetSubject()
	if err != nil {
		return ""
	}
	return sub
}

const fakeSecret = "s3cret"

func fakeUser(i int) string { return "load-" + strconv.Itoa(i) }
