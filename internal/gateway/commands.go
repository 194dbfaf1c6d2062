package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/hub"
	"github.com/chathub/chathub/internal/protocol"
)

// run runs one command of the client.
func (c *conn) run(ctx context.Context, cmd *protocol.Command) {
	var e *protocol.Error
	switch cmd.Type {
	case protocol.CmdJoin:
		e = c.join(ctx, cmd.ChatroomID, joinArgs{ref: cmd.Ref, since: cmd.Since, limit: cmd.Limit})
	case protocol.CmdLeave:
		e = c.leaveRoom(ctx, cmd.ChatroomID, cmd.Ref, "")
	case protocol.CmdBan:
		e = c.ban(ctx, cmd)
	case protocol.CmdMessage:
		e = c.post(ctx, cmd)
	case protocol.CmdEdit, protocol.CmdDelete, protocol.CmdReact:
		e = c.change(ctx, cmd)
	case protocol.CmdTyping:
		e = c.typing(ctx, cmd)
	case protocol.CmdRead:
		e = c.markRead(ctx, cmd)
	case protocol.CmdPrivate:
		e = c.private(ctx, cmd)
	case protocol.CmdHistory:
		e = c.history(ctx, cmd)
	case protocol.CmdUsers:
		c.reply(protocol.Encode(protocol.Users{Type: protocol.TypeUsers, Ref: cmd.Ref, Users: c.g.control.State().Users()}))
	case protocol.CmdRooms:
		e = c.listRooms(ctx, cmd)
	case protocol.CmdRefresh:
		e = c.refresh(ctx, cmd)
	case protocol.CmdAuth:
		e = protocol.Errorf(protocol.CodeBadRequest, "auth is only a connection's first frame; send refresh for a newer token")
	}
	if e != nil {
		c.reply(protocol.EncodeError(cmd.Ref, e))
	}
}

// post sends a message to the stream; the loop acks it once it is stored. A message sent
// again with the same ref by the same session to the same room is stored once: its
// Nats-Msg-Id is made of the four.
func (c *conn) post(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	room := cmd.ChatroomID
	if e := firstError(c.member(ctx, room, "message"), c.mayPost(room, cmd.Type)); e != nil {
		return e
	}
	ev := protocol.Event{ChatroomID: room, Type: protocol.TypeMessage, UserID: c.sess.User,
		Message: *cmd.Message, Data: compact(cmd.Data), UnixTime: time.Now().Unix()}
	if cmd.ReplyTo != nil {
		if _, e := c.message(ctx, room, uint64(*cmd.ReplyTo)); e != nil {
			return e
		}
		ev.ReplyTo = uint64(*cmd.ReplyTo)
	}
	u := c.unacked(cmd.Ref, room, &ev)
	if err := c.send(u); err != nil {
		return c.failure("message not stored", err)
	}
	c.acks.push(u)
	return nil
}

// messageID is the Nats-Msg-Id of a message with a ref: the stream stores a message once
// per session, room and ref within its deduplication window.
func messageID(user, session, room, ref string) string {
	return "m:" + user + ":" + session + ":" + room + ":" + headerSafe(ref)
}

// leaveRoom takes the session out of a room: the leave command (with its ref), or a ban or
// the room's deletion (with the reason). Leaving a room the session is not in is answered
// with left all the same: the session is not in it afterwards either way.
func (c *conn) leaveRoom(ctx context.Context, room, ref, reason string) *protocol.Error {
	left := protocol.Encode(protocol.Left{Type: protocol.TypeLeft, Ref: ref, ChatroomID: room, Reason: reason})
	was := c.rooms.Delete(room)
	if err := c.g.hub.Leave(c.sess, room, nil); err != nil {
		return c.failure("leave", err)
	}
	if was {
		// left comes after the session's remove or leave is stored (protocol 1.1).
		lctx, cancel := context.WithTimeout(ctx, c.g.cfg.JoinTimeout)
		err := whileTransient(lctx, func(ctx context.Context) error {
			return c.g.control.LeaveRoom(ctx, c.sess.User, c.sess.ID, c.sess.Conn, room)
		})
		cancel()
		if err != nil {
			c.log().Warn("presence not updated at leave", "room", room, "err", err)
		}
	}
	// Through the hub, after the leave above: no event of the room can follow it.
	if err := c.g.hub.Leave(c.sess, room, &hub.Frame{Data: left}); err != nil {
		return c.failure("leave", err)
	}
	return nil
}

// private opens or finds the private room with another user and joins it.
func (c *conn) private(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	if cmd.UserID == c.sess.User {
		return protocol.Errorf(protocol.CodeBadRequest, "a private room needs another user")
	}
	var room string
	if !c.mayCreate(control.PrivateRoom(c.sess.User, cmd.UserID)) {
		return errRoomsLimited // counted against the opener, never the peer
	}
	pctx, cancel := context.WithTimeout(ctx, c.g.cfg.JoinTimeout)
	defer cancel()
	err := whileTransient(pctx, func(ctx context.Context) (err error) {
		room, err = c.g.control.Private(ctx, c.sess.User, cmd.UserID)
		return err
	})
	if err != nil {
		return c.failure("private room", err)
	}
	return c.join(ctx, room, joinArgs{ref: cmd.Ref, private: true, peer: cmd.UserID})
}

// history pages backwards through a room.
func (c *conn) history(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	start := time.Now()
	st, e := c.g.stored(ctx, c.sess.User, cmd.ChatroomID, cmd.Before, cmd.LimitOr(protocol.DefaultLimit))
	since(c.g.metrics.historyLat, start)
	if e != nil {
		return e
	}
	head := protocol.History{Type: protocol.TypeHistory, Ref: cmd.Ref, ChatroomID: cmd.ChatroomID}
	// Each event is given its id as it is copied into the reply: one copy, not two.
	evs := make([][]byte, len(st))
	for i, s := range st {
		evs[i] = s.Data
	}
	c.reply(protocol.EncodeEventsWithIDs(head, evs, func(i int) uint64 { return st[i].ID }))
	return nil
}

// failure logs an internal error once and turns it into what the client may see.
func (c *conn) failure(what string, err error) *protocol.Error {
	return failure(c.log(), what, err)
}

func failure(log interface{ Warn(string, ...any) }, what string, err error) *protocol.Error {
	switch {
	case errors.Is(err, control.ErrForbidden):
		return protocol.Errorf(protocol.CodeForbidden, "this private room is not yours")
	case errors.Is(err, control.ErrNotListed):
		return protocol.Errorf(protocol.CodeForbidden, "this room is for its members only")
	case errors.Is(err, control.ErrBanned):
		return protocol.Errorf(protocol.CodeForbidden, "you are banned from this room")
	case errors.Is(err, history.ErrUnavailable), history.IsOutage(err):
		log.Warn(what+": event stream unavailable", "err", err)
		return protocol.Errorf(protocol.CodeUnavailable, "the event stream cannot be reached; nothing was stored, retry later")
	case errors.Is(err, control.ErrContended), errors.Is(err, hub.ErrNotJoined), errors.Is(err, control.ErrReplaced):
		// Nothing was done; a retry may succeed (or the connection is about to be replaced).
		log.Warn(what+" not done, retry", "err", err)
		return protocol.Errorf(protocol.CodeUnavailable, "%s could not be done now; nothing was stored, retry", what)
	}
	log.Warn(what+" failed", "err", err)
	return protocol.Errorf(protocol.CodeInternal, "internal error")
}

// headerSafe returns ref as it is when it is printable ASCII without spaces or colons (as a
// ref usually is, and as operators like to read it in Nats-Msg-Id), else a hash of it: a
// ref is any string, and a NATS header value must not hold line breaks.
func headerSafe(ref string) string {
	for i := 0; i < len(ref); i++ {
		if c := ref[i]; c <= ' ' || c > '~' || c == ':' {
			sum := sha256.Sum256([]byte(ref))
			return "sha256-" + hex.EncodeToString(sum[:12])
		}
	}
	return ref
}

func firstError(es ...*protocol.Error) *protocol.Error {
	for _, e := range es {
		if e != nil {
			return e
		}
	}
	return nil
}
