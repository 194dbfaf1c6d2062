package control

import "slices"

// The values stored in the key-value buckets, as JSON, so `nats kv get` reads well.

// sessionRecord is key "session.<user>.<session>" of the presence bucket: one session of a
// user, the connection that holds it and the rooms it counts in.
type sessionRecord struct {
	UserID    string   `json:"userId"`
	SessionID string   `json:"sessionId"`
	GatewayID string   `json:"gatewayId"`
	Run       string   `json:"run,omitempty"` // the gateway's run that holds it
	Conn      string   `json:"conn"`
	Rooms     []string `json:"rooms"`
	// GraceUntil, when set (unix ms), is when a dropped session stops counting as present.
	GraceUntil int64 `json:"graceUntil,omitempty"`
	// Stale are rooms a reconnected session counted in before and has not joined again;
	// at StaleUntil (unix ms) it is taken out of those it still has not joined.
	Stale      []string `json:"stale,omitempty"`
	StaleUntil int64    `json:"staleUntil,omitempty"`
}

// setRecord is key "member.<room>.<user>" (the user's sessions in a room) and key
// "user.<user>" (the user's connected sessions) of the presence bucket.
type setRecord struct {
	Sessions []string `json:"sessions"`
	// Pending (unix nanos) marks a member key whose change's event is being stored; Owed is
	// that event, so that if the gateway storing it dies, whoever finds the mark expired
	// stores it (under the same message id: once) before anything else happens to the key.
	Pending int64      `json:"pending,omitempty"`
	Owed    *owedEvent `json:"owed,omitempty"`
	// Enters are the ids of the sessions' join/add events (member keys only), so that a
	// join of a session already counted knows where its own event is.
	Enters map[string]uint64 `json:"enters,omitempty"`
}

// entersOf keeps the enter ids of sessions only.
func entersOf(cur *setRecord, sessions []string) map[string]uint64 {
	if cur == nil || len(cur.Enters) == 0 {
		return nil
	}
	out := make(map[string]uint64, len(sessions))
	for _, s := range sessions {
		if id, ok := cur.Enters[s]; ok {
			out[s] = id
		}
	}
	return out
}

// owedEvent is a decided presence event not yet known to be stored.
type owedEvent struct {
	Type     string `json:"type"`
	Session  string `json:"sessionId"`
	Decision string `json:"decision"` // names it in its message id
	UnixTime int64  `json:"unixTime"`
}

func (s *setRecord) has(id string) bool { return s != nil && slices.Contains(s.Sessions, id) }

// roomRecord is a key of the rooms bucket: every room ever created.
type roomRecord struct {
	ChatroomID string `json:"chatroomId"`
	Private    bool   `json:"private"`
	// Mode is the room's rule (ModeOpen, ModeReadonly, ModeMembers); "" is open. A private
	// room's mode is members whatever it says.
	Mode string `json:"mode,omitempty"`
	// Members are the two users of a private room, or who may join a members-mode room.
	Members []string `json:"members,omitempty"`
	// Moderators may post in a readonly room, delete any message and ban users.
	Moderators []string `json:"moderators,omitempty"`
	Created    int64    `json:"created"` // unix seconds
}

// banRecord is a key of the bans bucket: "room.<room>.<user>" bans a user from a room,
// "all.<user>" from the whole chat. Lifting a ban deletes its key.
type banRecord struct {
	UserID     string `json:"userId"`
	ChatroomID string `json:"chatroomId,omitempty"`
	UnixTime   int64  `json:"unixTime"`
}

// Key builders of the bans bucket (never "user.", "member." or "session.": the local
// copy keeps the revisions of every bucket's keys in one map).
func roomBanKey(room, user string) string { return "room." + room + "." + user }
func userBanKey(user string) string       { return "all." + user }

// gatewayRecord is a key of the gateways bucket, put every few seconds while it lives.
type gatewayRecord struct {
	GatewayID string `json:"gatewayId"`
	Run       string `json:"run"`  // this run of the gateway: a restart is another run
	Beat      int64  `json:"beat"` // unix seconds of the last heartbeat
}

// Key builders of the presence bucket. Every part is a validated name (no '.').
func sessionKey(user, session string) string { return "session." + user + "." + session }

// appendSessionKey appends sessionKey(user, session) to dst, for a lookup that must not
// allocate (State.unbacked).
func appendSessionKey(dst []byte, user, session string) []byte {
	dst = append(append(dst, "session."...), user...)
	return append(append(dst, '.'), session...)
}

func memberKey(room, user string) string { return "member." + room + "." + user }
func userKey(user string) string         { return "user." + user }

func without(list []string, s string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(x string) bool { return x == s })
}

func with(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(slices.Clone(list), s)
}
