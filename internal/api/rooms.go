package api

import (
	"context"
	"errors"

	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/protocol"
)

// MaxListed bounds the members and moderators of a room set by one call.
const MaxListed = 1000

// roomRequest is the body of room. Lists are replaced whole when given; null is as absent.
type roomRequest struct {
	ChatroomID string    `json:"chatroomId"`
	Mode       *string   `json:"mode"`
	Members    *[]string `json:"members"`
	Moderators *[]string `json:"moderators"`
}

func (r *roomRequest) validate() *protocol.Error {
	if e := room(r.ChatroomID); e != nil {
		return e
	}
	if r.Mode != nil && !control.ValidMode(*r.Mode) {
		return protocol.Errorf(protocol.CodeBadRequest, "mode must be open, readonly or members")
	}
	for name, l := range map[string]*[]string{"members": r.Members, "moderators": r.Moderators} {
		if l == nil {
			continue
		}
		if len(*l) > MaxListed {
			return protocol.Errorf(protocol.CodeBadRequest, "%s: at most %d users", name, MaxListed)
		}
		for _, u := range *l {
			if !protocol.ValidName(u) {
				return protocol.Errorf(protocol.CodeInvalidUser, "%s: userIds must be 1 to 64 of A-Z a-z 0-9 _ -", name)
			}
		}
	}
	return nil
}

// roomAnswer is the answer of room.
type roomAnswer struct {
	Room control.RoomView `json:"room"`
}

// setRoom creates or changes a room: its mode, members, moderators.
func (a *API) setRoom(ctx context.Context, body []byte) ([]byte, *protocol.Error) {
	var r roomRequest
	if e := firstError(decode(body, &r), r.validate()); e != nil {
		return nil, e
	}
	ch := control.RoomChange{Mode: r.Mode}
	if r.Members != nil {
		ch.Members, ch.SetMembers = *r.Members, true
	}
	if r.Moderators != nil {
		ch.Moderators, ch.SetMods = *r.Moderators, true
	}
	v, err := a.cfg.Control.SetRoom(ctx, r.ChatroomID, ch)
	if err != nil {
		return nil, roomFailure(a, "room", err)
	}
	a.log.Info("api: room", "room", r.ChatroomID, "mode", v.Mode, "members", len(v.Members), "moderators", len(v.Moderators))
	return encode(roomAnswer{Room: v}), nil
}

// roomID is the body of room.get and room.delete.
type roomID struct {
	ChatroomID string `json:"chatroomId"`
}

// getRoom answers a room and who is in it.
func (a *API) getRoom(ctx context.Context, body []byte) ([]byte, *protocol.Error) {
	var r roomID
	if e := firstError(decode(body, &r), room(r.ChatroomID)); e != nil {
		return nil, e
	}
	v, present, err := a.cfg.Control.Room(ctx, r.ChatroomID)
	if err != nil {
		return nil, roomFailure(a, "room.get", err)
	}
	if present == nil {
		present = []protocol.UserInfo{}
	}
	return encode(struct {
		Room    control.RoomView    `json:"room"`
		Present []protocol.UserInfo `json:"present"`
	}{v, present}), nil
}

// deleteRoom erases a room's events and record; its members' sessions get left (deleted).
func (a *API) deleteRoom(ctx context.Context, body []byte) ([]byte, *protocol.Error) {
	var r roomID
	if e := firstError(decode(body, &r), room(r.ChatroomID)); e != nil {
		return nil, e
	}
	if err := a.cfg.Control.DeleteRoom(ctx, r.ChatroomID); err != nil {
		return nil, roomFailure(a, "room.delete", err)
	}
	a.log.Info("api: room deleted", "room", r.ChatroomID)
	return []byte("{}"), nil
}

// banRequest is the body of ban.
type banRequest struct {
	UserID string `json:"userId"`
	On     *bool  `json:"on"`
}

// ban bans a user from the chat (on) or lifts the ban: on every gateway their connections
// are closed with 4503 and new ones refused, before the answer.
func (a *API) ban(ctx context.Context, body []byte) ([]byte, *protocol.Error) {
	var r banRequest
	if e := firstError(decode(body, &r), user(r.UserID)); e != nil {
		return nil, e
	}
	if r.On == nil {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "on is missing")
	}
	if err := a.cfg.Control.Ban(ctx, "", r.UserID, *r.On); err != nil {
		return nil, failure(a.log, "ban", err)
	}
	a.log.Info("api: ban", "user", r.UserID, "on", *r.On)
	return []byte("{}"), nil
}

func roomFailure(a *API, what string, err error) *protocol.Error {
	switch {
	case errors.Is(err, control.ErrNoRoom):
		return protocol.Errorf(CodeNotFound, "there is no such room")
	case errors.Is(err, control.ErrPrivateRoom):
		return protocol.Errorf(protocol.CodeBadRequest, "a private (dm-) room keeps its two users and mode members")
	}
	return failure(a.log, what, err)
}
