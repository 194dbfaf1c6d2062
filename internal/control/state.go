package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go/jetstream"
)

// State is this gateway's read-only copy of the presence and rooms buckets, kept current by
// watching them. It answers users and rooms without a round trip; every decision that must
// be exact reads and writes the bucket itself.
type State struct {
	mu       sync.Mutex // guards the maps; no I/O under it
	sessions map[string]*sessionRecord
	members  map[string]map[string][]string // room → user → sessions counted there
	owing    map[memberEntry]int64          // member keys (room, user) owing an event → their mark
	users    map[string]int                 // user → sessions
	rooms    map[string]*roomRecord
	revs     map[string]uint64 // key → revision applied; older news of a key is ignored
	bans     banSet            // its own lock: see banSet
}

func newState() *State {
	return &State{
		revs:     make(map[string]uint64),
		sessions: make(map[string]*sessionRecord),
		members:  make(map[string]map[string][]string),
		owing:    make(map[memberEntry]int64),
		users:    make(map[string]int),
		rooms:    make(map[string]*roomRecord),
		bans:     banSet{keys: make(map[string]bool)},
	}
}

// startWatch watches a bucket and applies its current contents; it returns once they are
// in, with the watcher to follow for what comes next.
func (s *State) startWatch(ctx context.Context, kv jetstream.KeyValue, apply func(key string, val []byte)) (jetstream.KeyWatcher, error) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, err
	}
	for {
		select {
		case <-ctx.Done():
			w.Stop()
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				w.Stop()
				return nil, fmt.Errorf("control: watch of %s ended before its contents were in", kv.Bucket())
			}
			if e == nil {
				return w, nil
			}
			s.applyEntry(apply, e)
		}
	}
}

// follow applies a watcher's updates until ctx ends (nil) or the watch ends (an error).
func (s *State) follow(ctx context.Context, w jetstream.KeyWatcher, apply func(key string, val []byte)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("control: watch ended")
			}
			if e != nil {
				s.applyEntry(apply, e)
			}
		}
	}
}

func (s *State) applyEntry(apply func(key string, val []byte), e jetstream.KeyValueEntry) {
	var val []byte
	if e.Operation() == jetstream.KeyValuePut {
		val = e.Value()
	}
	s.apply(apply, e.Key(), val, e.Revision(), true)
}

// apply applies news of a key (val nil: deleted) unless newer news of it was applied
// already: our own writes arrive twice, at once and again through the watcher, which may
// still bring older ones in between. A deleted key's revision is forgotten once the watcher,
// which brings a key's news in order, has brought the delete.
func (s *State) apply(fn func(key string, val []byte), key string, val []byte, rev uint64, watched bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev > s.revs[key] {
		fn(key, val)
		s.revs[key] = rev
	}
	if watched && val == nil {
		delete(s.revs, key)
	}
}

// applyPresence updates the copy from one presence key; val nil means deleted.
func (s *State) applyPresence(key string, val []byte) {
	kind, rest, _ := strings.Cut(key, ".")
	switch kind {
	case "session":
		var rec sessionRecord
		if val == nil || json.Unmarshal(val, &rec) != nil {
			delete(s.sessions, key)
			return
		}
		// Every record of one gateway's run names the same gateway and run: shared
		// (unique), not kept once a session. unique forgets a value no handle holds after
		// a collection, so the records applied between two collections share one copy.
		rec.GatewayID, rec.Run = unique.Make(rec.GatewayID).Value(), unique.Make(rec.Run).Value()
		s.sessions[key] = &rec
	case "member":
		room, user, _ := strings.Cut(rest, ".")
		var set setRecord
		if val != nil && json.Unmarshal(val, &set) == nil && set.Owed != nil {
			s.owing[memberEntry{room: room, user: user}] = set.Pending
		} else {
			delete(s.owing, memberEntry{room: room, user: user})
		}
		sessions := set.Sessions
		if len(sessions) == 0 {
			if m := s.members[room]; m != nil {
				delete(m, user)
				if len(m) == 0 {
					delete(s.members, room)
				}
			}
			return
		}
		if s.members[room] == nil {
			s.members[room] = make(map[string][]string)
		}
		s.members[room][user] = sessions
	case "user":
		if n := count(val); n > 0 {
			s.users[rest] = n
		} else {
			delete(s.users, rest)
		}
	}
}

func count(val []byte) int {
	var set setRecord
	if val == nil || json.Unmarshal(val, &set) != nil {
		return 0
	}
	return len(set.Sessions)
}

// owingSince lists the member keys (room and user) that owe an event and were marked
// before t.
func (s *State) owingSince(t time.Time) []memberEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []memberEntry
	for m, mark := range s.owing {
		if time.Unix(0, mark).Before(t) {
			out = append(out, m)
		}
	}
	return out
}

// memberEntry is one session counted in one room.
type memberEntry struct{ room, user, session string }

// unbacked lists the sessions counted in a room whose session record does not say they are
// in it: a gateway that died between ending a session's record and taking it out of its
// rooms leaves them so, and nobody else would ever take them out. A leave in progress looks
// the same for a moment; the sweeper acts only on what stays so.
func (s *State) unbacked() []memberEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []memberEntry
	// The lookup's key, made without allocating (the sweeper runs every second).
	var key [len("session.") + 2*protocol.MaxNameLen + 1]byte
	for room, users := range s.members {
		for user, sessions := range users {
			for _, id := range sessions {
				rec := s.sessions[string(appendSessionKey(key[:0], user, id))]
				if rec == nil || !slices.Contains(rec.Rooms, room) {
					out = append(out, memberEntry{room, user, id})
				}
			}
		}
	}
	return out
}

// applyRoom updates the copy from one rooms key.
func (s *State) applyRoom(key string, val []byte) {
	var rec roomRecord
	if val == nil || json.Unmarshal(val, &rec) != nil {
		delete(s.rooms, key)
		return
	}
	s.rooms[key] = &rec
}

// Users lists the users online on any gateway, sorted by id.
func (s *State) Users() []protocol.UserInfo {
	s.mu.Lock()
	out := make([]protocol.UserInfo, 0, len(s.users))
	for u, n := range s.users {
		out = append(out, protocol.UserInfo{UserID: u, Sessions: n})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// presentIn lists the users counted in room, with their sessions there, sorted by id.
func (s *State) presentIn(room string) []protocol.UserInfo {
	s.mu.Lock()
	out := make([]protocol.UserInfo, 0, len(s.members[room]))
	for u, sessions := range s.members[room] {
		out = append(out, protocol.UserInfo{UserID: u, Sessions: len(sessions)})
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out
}

// UserCount is the number of users online on any gateway.
func (s *State) UserCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users)
}

// Rooms lists the public rooms and, when user is not empty, that user's private rooms.
// Members-mode rooms are listed only to their members (and moderators); each entry says
// the room's mode and whether user is one of its moderators.
func (s *State) Rooms(user string) []protocol.RoomInfo {
	s.mu.Lock()
	out := make([]protocol.RoomInfo, 0, len(s.rooms))
	for id, r := range s.rooms {
		rules := rulesFor(r, user, false)
		if !rules.Listed || user == "" && rules.Mode == ModeMembers {
			continue
		}
		info := protocol.RoomInfo{ChatroomID: id, Users: len(s.members[id]), Private: r.Private,
			Mode: rules.Mode, Moderator: rules.Moderator}
		if r.Private {
			peer, ok := peerOf(r, user)
			if !ok {
				continue
			}
			info.Peer = peer
		}
		out = append(out, info)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ChatroomID < out[j].ChatroomID })
	return out
}

// HasRoom reports whether this gateway's copy of the rooms bucket holds room (a room just
// created elsewhere may not be in it yet).
func (s *State) HasRoom(id string) bool { return s.room(id) != nil }

// room returns the cached record of a room, or nil.
func (s *State) room(id string) *roomRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[id]
}

// sessionsWhere copies the cached session records that keep accepts. keep runs under the
// state's lock and must not call into the state. The sweeper selects what is due this way
// each second rather than copying every record: a copy of 10,000 sessions a second was
// all an idle gateway allocated (2 MB a second, the heap growing between collections).
func (s *State) sessionsWhere(keep func(*sessionRecord) bool) []sessionRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sessionRecord
	for _, r := range s.sessions {
		if keep(r) {
			out = append(out, *r)
		}
	}
	return out
}

// peerOf returns the other member of a private room, if user is one of its two.
func peerOf(r *roomRecord, user string) (string, bool) {
	if len(r.Members) != 2 || user == "" {
		return "", false
	}
	switch user {
	case r.Members[0]:
		return r.Members[1], true
	case r.Members[1]:
		return r.Members[0], true
	}
	return "", false
}

// Peer returns the other user of a private room user belongs to, or "".
func (s *State) Peer(room, user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		p, _ := peerOf(r, user)
		return p
	}
	return ""
}
