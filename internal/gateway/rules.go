package gateway

import (
	"context"

	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/protocol"
)

// Rooms with rules (protocol 1.1): modes, moderators and bans, enforced from this
// gateway's copy of the rooms and bans buckets (control.State).

// rules is what room's record and bans say of this connection's user.
func (c *conn) rules(room string) control.Rules {
	return c.g.control.State().Rules(room, c.sess.User, c.admin)
}

// mayPost checks that the session may post (what: message, react, edit) to a room it has
// joined: not banned from it, and in a readonly room a moderator (edits are the author's,
// who posted when it was allowed).
func (c *conn) mayPost(room, what string) *protocol.Error {
	r := c.rules(room)
	switch {
	case r.Banned:
		return errBanned(room)
	case what != protocol.CmdEdit && !r.MayPost():
		return protocol.Errorf(protocol.CodeForbidden, "%s is readonly: only its moderators post there", room)
	}
	return nil
}

func errBanned(room string) *protocol.Error {
	return protocol.Errorf(protocol.CodeForbidden, "you are banned from %s", room)
}

// ban runs the ban command: a moderator of the room bans a user from it, or lifts the ban.
// The ack comes once every live gateway enforces it (control.Plane.Ban says how): nothing
// of the banned user is stored in the room after it.
func (c *conn) ban(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	room := cmd.ChatroomID
	r := c.rules(room)
	switch {
	case !r.Moderator:
		return protocol.Errorf(protocol.CodeForbidden, "only a moderator of %s may ban from it", room)
	case !r.Exists:
		return protocol.Errorf(protocol.CodeNotFound, "there is no room %s", room)
	}
	bctx, cancel := context.WithTimeout(ctx, c.g.cfg.JoinTimeout)
	defer cancel()
	if err := c.g.control.Ban(bctx, room, cmd.UserID, *cmd.On); err != nil {
		c.log().Warn("ban not confirmed by every gateway", "room", room, "user", cmd.UserID, "err", err)
		return protocol.Errorf(protocol.CodeUnavailable,
			"the ban is stored but not every gateway confirmed it yet: send it again")
	}
	c.log().Info("ban", "room", room, "user", cmd.UserID, "on", *cmd.On)
	c.reply(protocol.Encode(protocol.Ack{Type: protocol.TypeAck, Ref: cmd.Ref, ChatroomID: room}))
	return nil
}

// Banned makes the local sessions of a user banned from room leave it, each with an
// unsolicited left (reason banned), its leave stored as usual; a user banned from the
// whole chat has its connections closed with 4503.
func (l local) Banned(room, user string) {
	for _, c := range l.g.conns.ofUser(user) {
		if room == "" {
			c.log().Info("connection closed: the user is banned")
			c.cut(protocol.CloseBanned, "banned")
			continue
		}
		c.ask(func(ctx context.Context, c *conn) {
			if c.rooms.Has(room) {
				c.leaveRoom(ctx, room, "", protocol.LeftBanned)
			}
		})
	}
}

// RoomDeleted makes every local session in room leave it (left, reason deleted); the
// channel is closed once each has, or has ended.
func (l local) RoomDeleted(room string) <-chan struct{} {
	type pending struct{ left, ended <-chan struct{} }
	var all []pending
	for _, c := range l.g.conns.all() {
		left := make(chan struct{})
		c.ask(func(ctx context.Context, c *conn) {
			defer close(left)
			if c.rooms.Has(room) {
				c.leaveRoom(ctx, room, "", protocol.LeftDeleted)
			}
		})
		all = append(all, pending{left, c.done})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range all {
			select {
			case <-p.left:
			case <-p.ended:
			}
		}
	}()
	return done
}
