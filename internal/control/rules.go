package control

import (
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/chathub/chathub/internal/protocol"
)

// Room modes (protocol 1.1, "Rooms with rules").
const (
	ModeOpen     = "open"     // anyone joins; members post
	ModeReadonly = "readonly" // anyone joins; moderators post
	ModeMembers  = "members"  // the listed members join; members post
)

// ValidMode reports whether m names a room mode.
func ValidMode(m string) bool { return m == ModeOpen || m == ModeReadonly || m == ModeMembers }

var (
	// ErrNotListed is returned for a members-mode room the user is not listed in.
	ErrNotListed = errors.New("control: not a member of this room")
	// ErrBanned is returned for a room the user is banned from.
	ErrBanned = errors.New("control: banned from this room")
)

// Rules is what a room's record and bans say of one user, from the local copy.
type Rules struct {
	Exists    bool   // the room has a record
	Mode      string // ModeOpen, ModeReadonly or ModeMembers
	Moderator bool   // listed as a moderator, or an admin (chat_admin)
	Listed    bool   // may join: in a members-mode room, listed (or a moderator); else true
	Banned    bool   // banned from the room, or from the chat
}

// MayPost reports whether the user may post (message, react) to the room.
func (r Rules) MayPost() bool { return !r.Banned && (r.Mode != ModeReadonly || r.Moderator) }

// mode is the effective mode of a room record.
func (r *roomRecord) mode() string {
	switch {
	case r.Private || protocol.IsPrivate(r.ChatroomID):
		return ModeMembers
	case r.Mode == "":
		return ModeOpen
	}
	return r.Mode
}

// rulesFor applies a room record (nil: none yet) to a user.
func rulesFor(rec *roomRecord, user string, admin bool) Rules {
	r := Rules{Mode: ModeOpen, Moderator: admin, Listed: true}
	if rec == nil {
		return r
	}
	r.Exists, r.Mode = true, rec.mode()
	r.Moderator = admin || slices.Contains(rec.Moderators, user)
	if r.Mode == ModeMembers {
		r.Listed = slices.Contains(rec.Members, user) || (!rec.Private && slices.Contains(rec.Moderators, user))
	}
	return r
}

// Rules returns what room's record and bans say of user (admin: the user's token carries
// chat_admin), from this gateway's copy of the buckets.
func (s *State) Rules(room, user string, admin bool) Rules {
	s.mu.Lock()
	r := rulesFor(s.rooms[room], user, admin)
	s.mu.Unlock()
	r.Banned = s.bans.has(room, user)
	return r
}

// UserBanned reports whether user is banned from the whole chat (the server API's ban).
func (s *State) UserBanned(user string) bool { return s.bans.has("", user) }

// banSet is the local copy of the bans bucket. Its lock is also the gate between a ban and
// the events of the banned user: a sender holds it for reading from its check until its
// event is handed to NATS (Sending), and a ban takes it for writing, so once a ban is in
// the copy every event of that user published before it is already on the connection, and
// none is published after.
type banSet struct {
	mu   sync.RWMutex
	keys map[string]bool
}

func (b *banSet) has(room, user string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.keys[userBanKey(user)] || room != "" && b.keys[roomBanKey(room, user)]
}

// set records a bans key (val nil: deleted). Called under State.mu, from apply.
func (b *banSet) set(key string, val []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if val == nil {
		delete(b.keys, key)
		return
	}
	b.keys[key] = true
}

// applyBan updates the copy from one bans key.
func (s *State) applyBan(key string, val []byte) { s.bans.set(key, val) }

// Sending runs publish, which hands an event of user in room to NATS, unless user is
// banned from the room (ErrBanned). A ban that comes in meanwhile waits for publish to
// return; see banSet.
func (s *State) Sending(room, user string, publish func() error) error {
	s.bans.mu.RLock()
	defer s.bans.mu.RUnlock()
	// With no ban at all (the usual case) no key is made: this runs for every message.
	if len(s.bans.keys) > 0 && (s.bans.keys[userBanKey(user)] || s.bans.keys[roomBanKey(room, user)]) {
		return ErrBanned
	}
	return publish()
}

// roomBans lists the users banned from room.
func (s *State) roomBans(room string) []string {
	s.bans.mu.RLock()
	defer s.bans.mu.RUnlock()
	var out []string
	prefix := roomBanKey(room, "")
	for k := range s.bans.keys {
		if u, ok := strings.CutPrefix(k, prefix); ok {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}
