package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/smallset"
	"github.com/coder/websocket"
	"github.com/google/uuid"
)

var errNoAnswer = errors.New("gateway: the event stream did not answer")

// conn is one WebSocket connection. Three goroutines serve it, each with one job:
//   - the reader reads the client's frames and hands them to the loop (it blocks while the
//     loop is busy, so a client that sends faster than its commands run is not read); it
//     ends when the client has sent nothing more, and starts again when it does (idle.go);
//   - the loop (serve) runs the client's commands one at a time and in order, and what
//     others ask of the connection through its inbox; it alone owns the connection's rooms,
//     rate allowance, token expiry and messages awaiting their acknowledgement. It runs
//     only while it has work: a frame offered, a request in the inbox, a message awaiting
//     its ack (loop.go);
//   - the writer writes what is queued for the session; it runs only while there is some.
//
// An idle connection has no goroutine on Linux (its socket waits in the process's epoll
// set, idle.go), elsewhere its reader only, waiting with a small stack; and small buffers
// (upgrade.go).
//
// A connection whose token comes as its first frame has no session until then: its reader
// already runs, and the goroutine that waits for the token (awaitToken) holds its loop.
type conn struct {
	// Set before the loop starts (the reader uses only ws); never changed.
	g    *Gateway
	ws   *websocket.Conn
	idle *idleReader // what ws reads the socket through; lets an idle reader stop (idle.go)
	sess *hub.Session

	frames  chan frame    // sent by the reader, closed when it ends; read by the loop
	ended   chan struct{} // closed by the reader when it ends, after frames
	readErr error         // why the reader ended; read by the loop once frames is closed
	inbox   inbox         // sent to by anyone; read by the loop
	done    chan struct{} // closed when the loop ends

	writing  atomic.Bool   // a writer goroutine is running
	looping  atomic.Bool   // a goroutine holds the loop: it owns the fields below
	offered  atomic.Uint64 // frames the reader has offered the loop, its end included
	cutWith  atomic.Int32  // the close code this side chose, 0 if none
	lastSeen atomic.Int64  // unix nanos of the last sign of life: a frame or pong read, a write taken
	pingSent atomic.Int64  // unix nanos of the last ping sent

	// Set by the writer: when the write under way began (monotonic), 0 between writes;
	// read by stuckWriters.
	writeSince atomic.Int64
	// Owned by the writer (one runs at a time: writing): when it last wrote a frame under
	// smallFrame (monotonic), 0 if its last frame was larger.
	smallAt time.Duration

	// Owned by the loop.
	rooms       smallset.Set[string] // rooms whose joined reply has been queued
	acks        ackQueue
	taken       uint64      // frames the loop has taken from the reader, its end included
	closing     bool        // a close is queued: further frames are not run
	readerEnded bool        // ended was seen closed
	expires     time.Time   // token mode: the token's exp; the connection ends Leeway after it
	admin       bool        // token mode: the token's chat_admin, a moderator of every room
	expiry      *time.Timer // token mode: tells the loop, through the inbox, that the token ran out
}

// frame is one frame read from the client.
type frame struct {
	typ  websocket.MessageType
	data []byte
}

// serveWS upgrades a request to a WebSocket and serves it until it ends.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	if max := g.cfg.Limits.MaxConns; max > 0 && g.conns.count()+int(g.waiting.Load()) >= max {
		writeError(w, protocol.Errorf(protocol.CodeUnavailable, "this gateway is full, try another or later"))
		return
	}
	if !g.limits.connects.allow(g.cfg.Limits.clientAddr(r)) {
		g.metrics.rejected.WithLabelValues(protocol.CodeRateLimited).Inc()
		writeError(w, errConnectLimited)
		return
	}
	c := &conn{g: g, frames: make(chan frame), ended: make(chan struct{}), done: make(chan struct{}),
		inbox: inbox{signal: make(chan struct{}, 1)}}
	c.looping.Store(true) // this goroutine holds the loop until it lets go (release)
	ws, err := websocket.Accept(withSmallBuffers(w, c.hijacked), r, &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled,
		OriginPatterns:  g.cfg.AllowedOrigins,
		OnPongReceived:  func(context.Context, []byte) { c.seen() },
	})
	if err != nil {
		return // Accept has answered the request
	}
	ws.SetReadLimit(protocol.MaxFrameSize)
	id, perr, code := g.identify(r)
	if perr != nil {
		g.metrics.rejected.WithLabelValues(perr.Code).Inc()
		refuse(r.Context(), ws, "", perr, code, g.cfg.WriteTimeout)
		return
	}
	c.ws = ws
	c.seen()
	if id.awaitToken {
		g.waiting.Add(1)
		go c.read()
		go c.awaitToken(id.session)
		return
	}
	c.begin(id)
	// Opening runs here; then the connection is served on goroutines of its own, which
	// start with small stacks, and net/http lets go of the request and of this one. The
	// loop starts when there is work for it.
	if c.open(context.Background()) {
		c.armExpiry()
		go c.read()
		c.release()
	}
}

// hijacked records the connection under the WebSocket and its reader.
func (c *conn) hijacked(idle *idleReader) { c.idle = idle }

// begin makes the connection's session once its identity is known.
func (c *conn) begin(id identity) {
	c.expires, c.admin = id.expires, id.admin
	c.sess = hub.NewSession(id.user, id.session, newConnID(), c.g.cfg.SendBudget, c.wake, c.cut)
	c.g.metrics.opened.Inc()
	c.g.opened.Add(1)
}

// log is the connection's logger. It is made when a line is logged, not kept: a logger
// made by With holds its attributes formatted, a few hundred bytes of every connection,
// and a connection logs little (its opening and its end).
func (c *conn) log() *slog.Logger {
	return c.g.log.With("user", c.sess.User, "session", c.sess.ID, "conn", c.sess.Conn)
}

// refuse sends an error frame (echoing ref) and closes with code.
func refuse(ctx context.Context, ws *websocket.Conn, ref string, e *protocol.Error, code int, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_ = ws.Write(ctx, websocket.MessageText, protocol.EncodeError(ref, e))
	_ = ws.Close(websocket.StatusCode(code), e.Message)
}

// open welcomes the client and records the connection in the hub and in presence; it
// reports false when the connection was refused (and is closing).
func (c *conn) open(ctx context.Context) bool {
	g := c.g
	welcome := protocol.Welcome{Type: protocol.TypeWelcome, UserID: c.sess.User, SessionID: c.sess.ID,
		GatewayID: g.cfg.ID, Protocol: protocol.Version}
	if g.control.State().UserBanned(c.sess.User) {
		g.metrics.rejected.WithLabelValues(protocol.CodeForbidden).Inc()
		c.reply(protocol.EncodeError("", protocol.Errorf(protocol.CodeForbidden, "banned")))
		c.closeNow(protocol.CloseBanned)
		return false
	}
	if !g.limits.userConnects.allow(c.sess.User) {
		g.metrics.rejected.WithLabelValues(protocol.CodeRateLimited).Inc()
		c.reply(protocol.EncodeError("", errConnectLimited))
		c.closeNow(protocol.CloseTryLater)
		return false
	}
	c.sess.Reply(&hub.Frame{Data: protocol.Encode(welcome)})
	if code := g.conns.add(c, g.cfg.Limits.MaxConnsPerUser); code != 0 {
		if code == protocol.CloseTryLater {
			c.reply(protocol.EncodeError("", protocol.Errorf(protocol.CodeUnavailable, "too many connections of this user")))
		}
		c.closeNow(code)
		return false
	}
	if err := g.hub.Register(c.sess); err != nil {
		g.conns.remove(c)
		c.closeNow(protocol.CloseGoingAway)
		return false
	}
	took, err := c.connectPresence(ctx)
	if err != nil {
		g.hub.Unregister(c.sess)
		g.conns.remove(c)
		c.presenceFailed(took, err)
		return false
	}
	g.control.Kick(ctx, c.sess.User, c.sess.ID, took)
	c.log().Info("connection opened", "took_over", took != nil, "chat_admin", c.admin)
	return true
}

// handle checks and runs one frame of the client.
func (c *conn) handle(ctx context.Context, f frame) {
	if f.typ != websocket.MessageText {
		c.reply(protocol.EncodeError("", protocol.Errorf(protocol.CodeBadRequest, "frames must be text")))
		return
	}
	if c.tokenExpired() {
		c.unauthorized("", "token expired")
		return
	}
	cmd, ref, perr := protocol.Decode(f.data)
	if perr == nil && !c.g.limits.allow(c.sess.User, cmd.Type) {
		perr = errRateLimited
	}
	if perr != nil {
		c.g.metrics.rejected.WithLabelValues(perr.Code).Inc()
		c.reply(protocol.EncodeError(ref, perr))
		return
	}
	c.g.metrics.commands.WithLabelValues(cmd.Type).Inc()
	c.run(ctx, cmd)
}

// teardown leaves the hub and records the end of the connection in presence: a client
// that closed with 1000 has left; any other end starts the grace period.
func (c *conn) teardown(readErr error) {
	g := c.g
	if c.expiry != nil {
		c.expiry.Stop()
	}
	g.hub.Unregister(c.sess)
	code := int(c.cutWith.Load())
	status := websocket.CloseStatus(readErr)
	c.log().Info("connection closed", "client_code", int(status), "gateway_code", code, "err", errString(readErr, status))
	g.metrics.closed.WithLabelValues(closeLabel(code, status)).Inc()
	if code == protocol.CloseReplaced {
		return
	}
	left := code == 0 && status == websocket.StatusNormalClosure
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	disconnect := func(ctx context.Context) error {
		return g.control.Disconnect(ctx, c.sess.User, c.sess.ID, c.sess.Conn, left)
	}
	if err := whileTransient(ctx, disconnect); err != nil {
		// Not forgotten: the session record still says this connection holds it, and
		// nobody else would ever end it while this gateway lives.
		c.log().Warn("presence not updated at close; trying again in the background", "err", err)
		g.metrics.deferred.Inc()
		go g.untilDone(c.log(), "presence at close", disconnect)
	}
	c.ws.CloseNow()
}

// closeLabel names why a connection ended, for metrics.
func closeLabel(gatewayCode int, client websocket.StatusCode) string {
	switch {
	case gatewayCode == protocol.CloseSlow:
		return "slow"
	case gatewayCode == protocol.CloseReplaced:
		return "replaced"
	case gatewayCode == protocol.CloseGoingAway:
		return "draining"
	case gatewayCode != 0:
		return "gateway_" + strconv.Itoa(gatewayCode)
	case client == websocket.StatusNormalClosure:
		return "left"
	case client == -1:
		return "dropped"
	case client == websocket.StatusGoingAway, client == websocket.StatusNoStatusRcvd,
		client == websocket.StatusAbnormalClosure, client == websocket.StatusMessageTooBig,
		client == websocket.StatusProtocolError, client == websocket.StatusPolicyViolation:
		return "client_" + strconv.Itoa(int(client))
	}
	// A client may close with any of thousands of codes: one label for the others keeps the
	// metric's series few.
	return "client_other"
}

func errString(err error, status websocket.StatusCode) string {
	if err == nil || status != -1 || errors.Is(err, context.Canceled) {
		return ""
	}
	return err.Error()
}

// reply queues a reply for this connection only. Replies never make a client "too slow":
// instead the loop reads no more commands while the session's queue is over its reply
// limit, so a client that asks for much and reads nothing holds at most one large reply.
func (c *conn) reply(data []byte) { c.sess.Reply(&hub.Frame{Data: data}) }

// overReplyLimit reports whether the loop should wait for the writer before it reads the
// client's next command: what is queued is over a quarter of the session's budget.
func (c *conn) overReplyLimit() bool { return c.sess.Queued() > c.sess.Budget()/4 }

// cut closes the connection with code without waiting for its queue. Called by the hub; it
// must not block.
func (c *conn) cut(code int, why string) {
	if c.cutAs(code) {
		go c.closeWS(code, why)
	}
}

// cutAs records code as the close code this side chose, unless one was, and counts a cut
// for slowness; it reports whether code was recorded.
func (c *conn) cutAs(code int) bool {
	if !c.cutWith.CompareAndSwap(0, int32(code)) {
		return false
	}
	if code == protocol.CloseSlow {
		c.g.metrics.slow.Inc()
	}
	return true
}

// closeWS closes the WebSocket with code: it sends the close frame and waits for the
// peer's, reading with waits (idle.go).
func (c *conn) closeWS(code int, why string) {
	if c.idle != nil {
		c.idle.ending.Store(true)
	}
	_ = c.ws.Close(websocket.StatusCode(code), why)
}

// closeNow queues a close with code: the writer closes after what is queued before it.
func (c *conn) closeNow(code int) {
	c.cutWith.CompareAndSwap(0, int32(code))
	c.sess.Reply(&hub.Frame{Close: code})
}

// seen records that the client showed it is alive.
func (c *conn) seen() { c.lastSeen.Store(time.Now().UnixNano()) }

// ping sends a ping and waits, at most timeout, for its pong (which the reader reads and
// records as seen); the pinger judges silence, not this call.
func (c *conn) ping(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c.pingSent.Store(time.Now().UnixNano())
	_ = c.ws.Ping(ctx)
}

// newConnID names a connection: a UUIDv7, whose first bits are the time it was opened, so
// that presence can tell an older connection of a session from a newer one (a slow attempt
// the client gave up on must not take its newer connection over).
func newConnID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
