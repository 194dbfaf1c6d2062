package gateway

import (
	"context"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/coder/websocket"
)

// Token mode over a connection's life: the token as its first frame, refresh, expiry.

// awaitToken serves a connection opened without ?token= in token mode: its first frame
// must be {"type":"auth","token":...}, within AuthTimeout; then it is welcomed and served
// as any other. This goroutine holds the loop meanwhile (the reader's frames wait for it),
// and lets go of it once the connection is open. Anything else first, nothing in time, or
// a bad token is refused with unauthorized and 4501; a draining gateway closes it with 1001.
// The reader already runs, so that the wait can end without cutting the socket.
func (c *conn) awaitToken(session string) {
	g := c.g
	timer := time.NewTimer(g.cfg.AuthTimeout)
	var f frame
	read, timedOut, draining := false, false, false
	select {
	case f, read = <-c.frames:
		c.taken++
	case <-timer.C:
		timedOut = true
	case <-g.conns.draining():
		draining = true
	}
	timer.Stop()
	g.waiting.Add(-1)
	if !read && !timedOut && !draining { // the client went away
		close(c.done)
		c.ws.CloseNow()
		return
	}
	if draining {
		close(c.done)
		c.closeWS(protocol.CloseGoingAway, "gateway draining")
		return
	}
	id, ref, perr := c.firstFrame(f, timedOut)
	if perr != nil {
		close(c.done) // the reader hands over no more frames
		g.metrics.rejected.WithLabelValues(perr.Code).Inc()
		refuse(context.Background(), c.ws, ref, perr, protocol.CloseUnauthorized, g.cfg.WriteTimeout)
		return
	}
	id.session = session
	c.begin(id)
	if !c.open(context.Background()) {
		close(c.done)
		return
	}
	c.armExpiry()
	c.release()
}

// firstFrame reads the identity from a connection's first frame.
func (c *conn) firstFrame(f frame, timedOut bool) (identity, string, *protocol.Error) {
	if timedOut {
		return identity{}, "", protocol.Errorf(protocol.CodeUnauthorized, "no token within %v", c.g.cfg.AuthTimeout)
	}
	if f.typ != websocket.MessageText {
		return identity{}, "", errFirstFrame
	}
	cmd, ref, perr := protocol.Decode(f.data)
	if perr != nil || cmd.Type != protocol.CmdAuth {
		return identity{}, ref, errFirstFrame
	}
	who, err := c.g.tokens.Verify(context.Background(), cmd.Token)
	if err != nil {
		return identity{}, ref, errUnauthorized
	}
	return identity{user: who.User, expires: who.Expires, admin: who.Admin}, ref, nil
}

var errFirstFrame = protocol.Errorf(protocol.CodeUnauthorized, `the first frame must be {"type":"auth","token":"<JWT>"}`)

// refresh takes a newer token of the connection's user: the connection lives on until it
// expires. A bad token, or one of another user, ends the connection (4501).
func (c *conn) refresh(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	if c.g.tokens == nil {
		return protocol.Errorf(protocol.CodeBadRequest, "this gateway takes no tokens")
	}
	who, err := c.g.tokens.Verify(ctx, cmd.Token)
	switch {
	case err != nil:
		c.unauthorized(cmd.Ref, errUnauthorized.Message)
	case who.User != c.sess.User:
		c.unauthorized(cmd.Ref, "the token is of another user")
	default:
		c.expires, c.admin = who.Expires, who.Admin
		c.armExpiry()
		c.reply(protocol.Encode(protocol.Refreshed{Type: protocol.TypeRefreshed, Ref: cmd.Ref, Exp: who.Expires.Unix()}))
	}
	return nil
}

// tokenExpired reports whether the connection's token has run out (never in open mode).
func (c *conn) tokenExpired() bool { return c.tokenExpiredAt(time.Now()) }

// tokenExpiredAt reports whether the token has run out at now: from Leeway after its exp
// on, the instant a new connection with it is refused (auth).
func (c *conn) tokenExpiredAt(now time.Time) bool {
	return !c.expires.IsZero() && !now.Before(c.expires.Add(auth.Leeway))
}

// armExpiry (re)sets the timer that ends the connection when its token runs out, Leeway
// after its exp, as a new connection with that token would be refused then.
func (c *conn) armExpiry() {
	if c.expires.IsZero() {
		return
	}
	d := time.Until(c.expires.Add(auth.Leeway))
	if c.expiry == nil {
		c.expiry = time.AfterFunc(d, func() { c.ask(expire) })
		return
	}
	c.expiry.Reset(d)
}

// expire ends a connection whose token ran out; its session keeps its grace period, as for
// any end but a client's 1000, so that reconnecting with a new token costs nothing.
func expire(_ context.Context, c *conn) {
	switch {
	case c.closing:
	case c.tokenExpired():
		c.unauthorized("", "token expired")
	default:
		// A refresh since the timer fired moved the expiry, or the wall clock went back
		// while the timer ran (it counts monotonic time): wait for the new end.
		c.armExpiry()
	}
}

// unauthorized sends an unauthorized error and closes with 4501 after what is queued.
func (c *conn) unauthorized(ref, message string) {
	c.g.metrics.rejected.WithLabelValues(protocol.CodeUnauthorized).Inc()
	c.reply(protocol.EncodeError(ref, protocol.Errorf(protocol.CodeUnauthorized, "%s", message)))
	c.closeNow(protocol.CloseUnauthorized)
	c.closing = true
}
