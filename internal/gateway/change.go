package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// member checks that the session may post to room: it has joined it (a private room of
// other users is forbidden rather than not joined).
func (c *conn) member(ctx context.Context, room, what string) *protocol.Error {
	switch r := c.rules(room); {
	case r.Banned:
		return errBanned(room) // banned comes first: a banned user has been made to leave
	case c.rooms.Has(room):
		return nil
	case !r.Listed && !protocol.IsPrivate(room):
		return protocol.Errorf(protocol.CodeForbidden, "%s is for its members only", room)
	}
	if protocol.IsPrivate(room) {
		if err := c.g.control.Access(ctx, c.sess.User, room, false); err != nil {
			return c.failure(what, err) // forbidden: a private room of other users
		}
	}
	return protocol.Errorf(protocol.CodeNotMember, "join %s before posting to it", room)
}

// message reads the message id of room: a message event the stream still holds. An
// unknown id, an erased (deleted) message, an event of another room or of another type
// is not_found.
func (c *conn) message(ctx context.Context, room string, id uint64) (*protocol.Event, *protocol.Error) {
	st, ok, err := c.g.store.Get(ctx, room, id)
	if err != nil {
		return nil, c.failure("read the target", err)
	}
	var ev protocol.Event
	if !ok || json.Unmarshal(st.Data, &ev) != nil || ev.Type != protocol.TypeMessage {
		return nil, protocol.Errorf(protocol.CodeNotFound, "%s holds no message %d", room, id)
	}
	return &ev, nil
}

// mayDelete decides whether the session's user may delete a message of room written by
// author: its author, or a moderator of the room (listed in its record, or chat_admin).
func (c *conn) mayDelete(room, author string) bool {
	return c.sess.User == author || c.rules(room).Moderator
}

// change runs edit, delete and react: events that refer to a message of the room (its
// target), stored and acknowledged as messages are, under the same message ids.
func (c *conn) change(ctx context.Context, cmd *protocol.Command) *protocol.Error {
	room, target := cmd.ChatroomID, uint64(*cmd.ID)
	if e := c.member(ctx, room, cmd.Type); e != nil {
		return e
	}
	if cmd.Type != protocol.CmdDelete {
		if e := c.mayPost(room, cmd.Type); e != nil {
			return e
		}
	}
	orig, e := c.message(ctx, room, target)
	if e != nil {
		if cmd.Type == protocol.CmdDelete && e.Code == protocol.CodeNotFound {
			return c.deletedAlready(ctx, cmd, e)
		}
		return e
	}
	ev := protocol.Event{ChatroomID: room, Target: target, UserID: c.sess.User, UnixTime: time.Now().Unix()}
	var after func(ctx context.Context, ack *jetstream.PubAck) *protocol.Error
	switch cmd.Type {
	case protocol.CmdEdit:
		if orig.UserID != c.sess.User {
			return protocol.Errorf(protocol.CodeForbidden, "only its author may edit message %d", target)
		}
		ev.Type, ev.Message = protocol.TypeEdit, *cmd.Message
		after = func(ctx context.Context, ack *jetstream.PubAck) *protocol.Error {
			if ack.Duplicate {
				return nil // stored before, by the first command with this ref
			}
			return c.editStored(ctx, room, target, ack.Sequence)
		}
	case protocol.CmdDelete:
		if !c.mayDelete(room, orig.UserID) {
			return protocol.Errorf(protocol.CodeForbidden, "only its author or a moderator may delete message %d", target)
		}
		ev.Type = protocol.TypeDelete
		after = func(ctx context.Context, ack *jetstream.PubAck) *protocol.Error {
			id := ack.Sequence
			if ack.Duplicate {
				if e := c.sameDelete(ctx, room, target, id, cmd.Ref); e != nil {
					return e
				}
			}
			if c.erase(ctx, room, target) != nil {
				return protocol.Errorf(protocol.CodeUnavailable,
					"delete %d is stored but message %d is not erased yet: send the delete again with the same ref", id, target)
			}
			return nil
		}
	case protocol.CmdReact:
		ev.Type, ev.Emoji, ev.On = protocol.TypeReaction, *cmd.Emoji, cmd.On
	}
	u := c.unacked(cmd.Ref, room, &ev)
	u.after = after
	if err := c.send(u); err != nil {
		return c.failure(cmd.Type+" not stored", err)
	}
	c.acks.push(u)
	return nil
}

// unacked makes the pending append of an event the session sends.
func (c *conn) unacked(ref, room string, ev *protocol.Event) *unacked {
	hdr := history.Headers(ev.Type, c.sess.User, "")
	if ev.Target != 0 {
		hdr = history.WithTarget(hdr, ev.Target)
	}
	u := &unacked{ref: ref, room: room, data: ev.Marshal(), hdr: hdr, start: time.Now()}
	if ref != "" {
		u.msgID = messageID(c.sess.User, c.sess.ID, room, ref)
	}
	return u
}

// editStored checks, once an edit is stored, that its target was not deleted meanwhile:
// a delete erases the edits it finds, and an edit stored after the delete looked for them
// finds its target gone here, and erases itself.
func (c *conn) editStored(ctx context.Context, room string, target, id uint64) *protocol.Error {
	if _, e := c.message(ctx, room, target); e == nil || e.Code != protocol.CodeNotFound {
		return e
	}
	if err := c.g.store.Erase(ctx, id); err != nil {
		c.failure("erase an edit of a deleted message", err)
		return protocol.Errorf(protocol.CodeUnavailable, "message %d was deleted while edit %d was stored, which is not erased yet", target, id)
	}
	return protocol.Errorf(protocol.CodeNotFound, "message %d was deleted", target)
}

// erase removes a deleted message, then its edits, from the stream: the message first,
// so an edit stored after the edits were looked for finds its target gone (editStored).
// Reading the edits costs a read of the room's events after the target (history.Referring).
func (c *conn) erase(ctx context.Context, room string, target uint64) *protocol.Error {
	if err := c.g.store.Erase(ctx, target); err != nil {
		return c.failure("erase a deleted message", err)
	}
	edits, err := c.g.store.Referring(ctx, room, target, protocol.TypeEdit)
	if err != nil {
		return c.failure("find the edits of a deleted message", err)
	}
	for _, id := range edits {
		if err := c.g.store.Erase(ctx, id); err != nil {
			return c.failure("erase an edit of a deleted message", err)
		}
	}
	return nil
}

// sameDelete checks that the event id, which the stream answered for a delete sent with
// ref, is a delete of target: a ref used for another command within the deduplication
// window stored nothing now, and nothing may be erased for it.
func (c *conn) sameDelete(ctx context.Context, room string, target, id uint64, ref string) *protocol.Error {
	st, ok, err := c.g.store.Get(ctx, room, id)
	if err != nil {
		return c.failure("delete", err)
	}
	if typ, tg := protocol.Peek(st.Data); ok && typ == protocol.TypeDelete && tg == target {
		return nil
	}
	return protocol.Errorf(protocol.CodeBadRequest, "ref %q was used for another command in the last 2 minutes; nothing was deleted", ref)
}

// deletedAlready answers a delete whose target is gone: if this session's delete with the
// same ref was stored (a resend after a lost ack), it answers that delete's id, finishing
// its erasure; otherwise not_found.
func (c *conn) deletedAlready(ctx context.Context, cmd *protocol.Command, notFound *protocol.Error) *protocol.Error {
	if cmd.Ref == "" {
		return notFound
	}
	room, target := cmd.ChatroomID, uint64(*cmd.ID)
	probe := protocol.Event{ChatroomID: room, Type: protocol.TypeDelete, Target: target, UserID: c.sess.User}
	id, ok, err := c.g.store.StoredAs(ctx, room, probe.Marshal(), messageID(c.sess.User, c.sess.ID, room, cmd.Ref))
	switch {
	case err != nil:
		return c.failure("delete", err)
	case !ok:
		return notFound
	}
	if e := c.sameDelete(ctx, room, target, id, cmd.Ref); e != nil {
		return notFound // the ref was another command's
	}
	if e := c.erase(ctx, room, target); e != nil {
		return e
	}
	c.reply(protocol.Encode(protocol.Ack{Type: protocol.TypeAck, Ref: cmd.Ref, ChatroomID: room, ID: id}))
	return nil
}

// compact returns a message's data as stored: the client's object without white space
// between tokens (a raw newline would split a gateway frame).
func compact(data json.RawMessage) json.RawMessage {
	if data == nil {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return nil // cannot happen: the decoder checked it
	}
	return b.Bytes()
}
