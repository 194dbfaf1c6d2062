package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/coder/websocket"
	"github.com/google/uuid"
)

// conn is one WebSocket connection: its reader is the HTTP handler's goroutine, which runs
// the client's commands in order; its writer runs only while there is something to write.
type conn struct {
	g    *Gateway
	ws   *websocket.Conn
	sess *hub.Session
	log  *slog.Logger

	writing  atomic.Bool  // a writer goroutine is running
	acking   atomic.Bool  // an acker goroutine is running
	acks     chan *ackJob // messages awaiting their ack: sent by the reader, read by the acker
	cutWith  atomic.Int32 // the close code this side chose, 0 if none
	lastRead atomic.Int64 // unix nanos of the last frame read from the client

	expires   time.Time // token mode: the token's expiry, checked at every command
	allowance allowance // rate limits, used by the reader only

	mu    sync.Mutex      // guards rooms: the reader and unsolicited private joins use it
	rooms map[string]bool // rooms whose joined reply has been queued
}

// serveWS upgrades a request to a WebSocket and serves it until it ends.
func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	if max := g.cfg.Limits.MaxConns; max > 0 && g.conns.count() >= max {
		writeError(w, protocol.Errorf(protocol.CodeUnavailable, "this gateway is full, try another or later"))
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		CompressionMode: websocket.CompressionDisabled,
		OriginPatterns:  g.cfg.AllowedOrigins,
	})
	if err != nil {
		return // Accept has answered the request
	}
	ws.SetReadLimit(protocol.MaxFrameSize)
	id, perr, code := g.identify(r)
	if perr != nil {
		g.metrics.rejected.WithLabelValues(perr.Code).Inc()
		refuse(r.Context(), ws, perr, code, g.cfg.WriteTimeout)
		return
	}
	c := &conn{g: g, ws: ws, rooms: make(map[string]bool), expires: id.expires, allowance: g.cfg.Limits.allowance()}
	c.sess = hub.NewSession(id.user, id.session, uuid.NewString(), g.cfg.SendQueue, c.wake, c.cut)
	c.log = g.log.With("user", id.user, "session", id.session, "conn", c.sess.Conn)
	g.metrics.opened.Inc()
	// Opening runs here; then the connection is served on a goroutine of its own, which
	// starts with a small stack, and net/http lets go of the request and of this one.
	if c.open(context.Background()) {
		go c.serve(context.Background())
	}
}

// refuse sends an error frame and closes with code.
func refuse(ctx context.Context, ws *websocket.Conn, e *protocol.Error, code int, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_ = ws.Write(ctx, websocket.MessageText, protocol.EncodeError("", e))
	_ = ws.Close(websocket.StatusCode(code), e.Message)
}

// open welcomes the client and records the connection in the hub and in presence; it
// reports false when the connection was refused (and is closing).
func (c *conn) open(ctx context.Context) bool {
	g := c.g
	welcome := protocol.Welcome{Type: protocol.TypeWelcome, UserID: c.sess.User, SessionID: c.sess.ID, GatewayID: g.cfg.ID}
	c.sess.Send(&hub.Frame{Data: protocol.Encode(welcome)})
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
	took, err := g.bridge.Presence.Connect(ctx, c.sess.User, c.sess.ID, c.sess.Conn)
	if err != nil {
		c.log.Warn("presence unavailable", "err", err)
		g.hub.Unregister(c.sess)
		g.conns.remove(c)
		c.closeNow(protocol.CloseInternal)
		return false
	}
	g.bridge.Kick(ctx, c.sess.User, c.sess.ID, took)
	c.log.Info("connection opened", "took_over", took != nil)
	return true
}

// serve reads the client's commands until the connection ends, then tears it down.
func (c *conn) serve(ctx context.Context) {
	defer c.g.conns.remove(c)
	c.teardown(c.readLoop(ctx))
}

// readLoop runs the client's commands, one at a time and in order, until the connection
// ends. Each runs on a goroutine of its own while the reader waits: decoding, presence
// and history grow a stack that then goes away, and the reader's, which lives as long as
// the connection, stays small.
func (c *conn) readLoop(ctx context.Context) error {
	done := make(chan bool, 1)
	for {
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			return err
		}
		c.lastRead.Store(time.Now().UnixNano())
		go func() { done <- c.handle(ctx, typ, data) }()
		if !<-done {
			return nil
		}
	}
}

// handle checks and runs one frame of the client; false ends the connection.
func (c *conn) handle(ctx context.Context, typ websocket.MessageType, data []byte) bool {
	if typ != websocket.MessageText {
		c.reply(protocol.EncodeError("", protocol.Errorf(protocol.CodeBadRequest, "frames must be text")))
		return true
	}
	if !c.expires.IsZero() && time.Now().After(c.expires) {
		c.reply(protocol.EncodeError("", errUnauthorized))
		c.closeNow(protocol.CloseUnauthorized)
		return false
	}
	cmd, ref, perr := protocol.Decode(data)
	if perr == nil && !c.allowance.allow(cmd.Type) {
		perr = errRateLimited
	}
	if perr != nil {
		c.g.metrics.rejected.WithLabelValues(perr.Code).Inc()
		c.reply(protocol.EncodeError(ref, perr))
		return true
	}
	c.g.metrics.commands.WithLabelValues(cmd.Type).Inc()
	c.run(ctx, cmd)
	return true
}

// teardown leaves the hub and records the end of the connection in presence: a client
// that closed with 1000 has left; any other end starts the grace period.
func (c *conn) teardown(readErr error) {
	g := c.g
	g.hub.Unregister(c.sess)
	code := int(c.cutWith.Load())
	status := websocket.CloseStatus(readErr)
	c.log.Info("connection closed", "client_code", int(status), "gateway_code", code, "err", errString(readErr, status))
	g.metrics.closed.WithLabelValues(closeLabel(code, status)).Inc()
	if code == protocol.CloseReplaced {
		return
	}
	left := code == 0 && status == websocket.StatusNormalClosure
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.bridge.Presence.Disconnect(ctx, c.sess.User, c.sess.ID, c.sess.Conn, left); err != nil {
		c.log.Warn("presence not updated at close", "err", err)
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
	}
	return "client_" + strconv.Itoa(int(client))
}

func errString(err error, status websocket.StatusCode) string {
	if err == nil || status != -1 || errors.Is(err, context.Canceled) {
		return ""
	}
	return err.Error()
}

// reply queues a reply for this connection only, waiting (up to the write timeout) while
// its queue is full: a client flooding commands is slowed down, not cut.
func (c *conn) reply(data []byte) { c.sess.SendWait(c.g.cfg.WriteTimeout, &hub.Frame{Data: data}) }

// cut closes the connection with code without waiting for its queue. Called by the hub; it
// must not block.
func (c *conn) cut(code int, why string) {
	if c.cutWith.CompareAndSwap(0, int32(code)) {
		if code == protocol.CloseSlow {
			c.g.metrics.slow.Inc()
		}
		go c.ws.Close(websocket.StatusCode(code), why)
	}
}

// closeNow queues a close with code: the writer closes after what is queued before it.
func (c *conn) closeNow(code int) {
	c.cutWith.CompareAndSwap(0, int32(code))
	c.sess.Send(&hub.Frame{Close: code})
}

// ping cuts the connection unless the peer answers a ping within timeout. The pong is read
// by the connection's reader, which may be busy running the client's commands: a client
// that sent a frame within the timeout is alive whether or not its pong was read.
func (c *conn) ping(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := c.ws.Ping(ctx)
	busy := time.Since(time.Unix(0, c.lastRead.Load())) < timeout
	if err != nil && ctx.Err() != nil && !busy {
		c.log.Info("peer did not answer a ping", "err", err)
		c.ws.CloseNow()
	}
}
