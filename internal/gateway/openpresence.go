package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/retry"
)

// Recording a new connection in presence can fail for a moment: NATS slow or unreachable,
// or the session's records contended — the sweepers of every gateway ending a dead
// gateway's sessions while those same sessions reconnect here. Opening tries it again a
// few times, within a bounded time, before it gives up.
// A stream or bucket leader election in a NATS cluster takes seconds: the tries go on for
// as long as that.
const openPresenceTimeout = 10 * time.Second // for all the tries (retry.Fast between them)

// connectPresence records the connection in presence, trying again while the failure is
// transient. It returns the connection taken over, if any try took one over, even with an
// error.
func (c *conn) connectPresence(ctx context.Context) (*control.Takeover, error) {
	ctx, cancel := context.WithTimeout(ctx, openPresenceTimeout)
	defer cancel()
	var took *control.Takeover
	err := whileTransient(ctx, func(ctx context.Context) error {
		t, err := c.g.control.Connect(ctx, c.sess.User, c.sess.ID, c.sess.Conn)
		if t != nil {
			took = t // a later try finds the session already this connection's
		}
		if err != nil && transient(err) {
			c.log().Info("presence not recorded yet, trying again", "err", err)
		}
		return err
	})
	return took, err
}

// presenceFailed closes a connection whose presence could not be recorded: with 1013 (try
// again later), after an unavailable error frame, when the failure is transient, else with
// 1011. Then it ends what the connection started: the connection it took over, if any, is
// cut, and its record, if written, starts its grace period like any dropped connection's.
func (c *conn) presenceFailed(took *control.Takeover, err error) {
	g := c.g
	code := protocol.CloseInternal
	if errors.Is(err, control.ErrReplaced) {
		// The client opened a newer connection of this session while this one waited: it
		// gave up on this one, which must not take the newer one over.
		code = protocol.CloseReplaced
	}
	if transient(err) {
		code = protocol.CloseTryLater
		c.reply(protocol.EncodeError("", protocol.Errorf(protocol.CodeUnavailable, "presence cannot be recorded now, retry later")))
	}
	c.log().Warn("presence unavailable; connection refused", "err", err, "close", code)
	c.closeNow(code)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g.control.Kick(ctx, c.sess.User, c.sess.ID, took)
	disconnect := func(ctx context.Context) error {
		return g.control.Disconnect(ctx, c.sess.User, c.sess.ID, c.sess.Conn, false)
	}
	if err := disconnect(ctx); err != nil {
		c.log().Warn("presence not updated at close; trying again in the background", "err", err)
		g.metrics.deferred.Inc()
		go g.untilDone(c.log(), "presence at close", disconnect)
	}
}

// untilDone runs fn again and again, waiting longer each time (up to 10 s), until it
// succeeds, fails in a way that will not pass, or the gateway stops: for what must not be
// forgotten when NATS is away longer than a command can wait (a connection's end in
// presence). If the gateway stops first, its run's heartbeat stops and the other gateways
// end its sessions.
func (g *Gateway) untilDone(log *slog.Logger, what string, fn func(context.Context) error) {
	attempts := 0
	err := retry.Do(g.runCtx, retry.Slow, func(err error) bool {
		return transient(err) || errors.Is(err, context.DeadlineExceeded)
	}, func(ctx context.Context) error {
		attempts++
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return fn(ctx)
	}, nil)
	switch {
	case err == nil:
		log.Info(what+" done", "attempts", attempts)
	case g.runCtx.Err() == nil:
		log.Warn(what+" failed for good", "attempts", attempts, "err", err)
	}
}

// transient reports whether a presence failure may pass by itself.
func transient(err error) bool {
	return history.IsOutage(err) || errors.Is(err, control.ErrContended)
}

// whileTransient runs fn, again after a short wait while it fails in a way that may pass
// (a leader election in the NATS cluster), until ctx ends. fn must be safe to repeat.
func whileTransient(ctx context.Context, fn func(context.Context) error) error {
	return retry.Do(ctx, retry.Fast, transient, fn, nil)
}
