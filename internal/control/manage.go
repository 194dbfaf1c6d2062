package control

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// The server API's management of rooms: create or change one, read it, delete it.

var (
	// ErrNoRoom is returned for a room that has no record.
	ErrNoRoom = errors.New("control: no such room")
	// ErrPrivateRoom is returned for a change of a private room: its two users are its
	// members, and its mode is members.
	ErrPrivateRoom = errors.New("control: a private room cannot be changed")
)

// RoomChange changes a room; a nil field stays as it is. Lists are replaced whole.
type RoomChange struct {
	Mode       *string
	Members    []string
	SetMembers bool // Members replaces the members (an empty list empties them)
	Moderators []string
	SetMods    bool // Moderators replaces the moderators
}

// RoomView is a room as the server API shows it.
type RoomView struct {
	ChatroomID string   `json:"chatroomId"`
	Mode       string   `json:"mode"`
	Private    bool     `json:"private"`
	Members    []string `json:"members"`
	Moderators []string `json:"moderators"`
	Banned     []string `json:"banned"` // users banned from the room
	Created    int64    `json:"created"`
}

func (p *Plane) view(rec *roomRecord) RoomView {
	v := RoomView{ChatroomID: rec.ChatroomID, Mode: rec.mode(), Private: rec.Private, Created: rec.Created,
		Members: orEmpty(rec.Members), Moderators: orEmpty(rec.Moderators), Banned: orEmpty(p.state.roomBans(rec.ChatroomID))}
	return v
}

func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// SetRoom creates room (open, unless ch says otherwise) or changes it, by compare-and-set,
// and returns it as stored. Every gateway enforces the change from its watch of the bucket.
func (p *Plane) SetRoom(ctx context.Context, room string, ch RoomChange) (RoomView, error) {
	if protocol.IsPrivate(room) {
		return RoomView{}, ErrPrivateRoom
	}
	b := bucket{kv: p.rooms, nc: p.nc, wrote: func(key string, val []byte, rev uint64) {
		p.state.apply(p.state.applyRoom, key, val, rev, false)
	}}
	var next roomRecord
	_, err := update(ctx, b, room, func(cur *roomRecord) (*roomRecord, error) {
		next = roomRecord{ChatroomID: room, Created: p.cfg.Now().Unix()}
		if cur != nil {
			next = *cur
		}
		if ch.Mode != nil {
			next.Mode = *ch.Mode
		}
		if ch.SetMembers {
			next.Members = sortedSet(ch.Members)
		}
		if ch.SetMods {
			next.Moderators = sortedSet(ch.Moderators)
		}
		return &next, nil
	})
	if err != nil {
		return RoomView{}, fmt.Errorf("control: room %s: %w", room, err)
	}
	return p.view(&next), nil
}

func sortedSet(l []string) []string {
	out := slices.Clone(l)
	slices.Sort(out)
	return slices.Compact(out)
}

// Room returns a room and who is in it (a session in its grace period counts).
func (p *Plane) Room(ctx context.Context, room string) (RoomView, []protocol.UserInfo, error) {
	rec, err := p.roomRecord(ctx, room)
	if err != nil {
		return RoomView{}, nil, err
	}
	if rec == nil {
		return RoomView{}, nil, ErrNoRoom
	}
	return p.view(rec), p.state.presentIn(room), nil
}

// DeleteRoom erases a room: every gateway makes its sessions in the room leave it (with
// left, reason deleted), then the room's events are purged from the stream, then its
// record and bans are deleted. A join of the same id afterwards makes a new, empty room.
func (p *Plane) DeleteRoom(ctx context.Context, room string) error {
	rec, err := p.roomRecord(ctx, room)
	if err != nil {
		return err
	}
	if rec == nil {
		return ErrNoRoom
	}
	if err := p.confirm(ctx, rulesNotice{Kind: kindDelete, Room: room}); err != nil {
		return err
	}
	if err := p.store.Purge(ctx, room); err != nil {
		return err
	}
	if err := p.rooms.Delete(ctx, room); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("control: delete room %s: %w", room, err)
	}
	for _, user := range p.state.roomBans(room) {
		if err := p.bans.Delete(ctx, roomBanKey(room, user)); err != nil {
			return fmt.Errorf("control: delete the bans of room %s: %w", room, err)
		}
	}
	return nil
}
