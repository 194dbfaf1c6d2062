package protocol

import (
	"bytes"
	"encoding/json"
)

// Reply types (gateway to client) that are not events.
const (
	TypeWelcome   = "welcome"
	TypeJoined    = "joined"
	TypeLeft      = "left"
	TypeAck       = "ack"
	TypeHistory   = "history"
	TypeUsers     = "users"
	TypeRooms     = "rooms"
	TypeError     = "error"
	TypeRefreshed = "refreshed"
)

// Version is the protocol version a gateway speaks, sent in the welcome.
const Version = "1.1"

// Welcome is always the first frame of a connection.
type Welcome struct {
	Type      string `json:"type"`
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
	GatewayID string `json:"gatewayId"`
	Protocol  string `json:"protocol"`
}

// Refreshed answers refresh: the connection lives on until the new token's exp.
type Refreshed struct {
	Type string `json:"type"`
	Ref  string `json:"ref,omitempty"`
	Exp  int64  `json:"exp"`
}

// Joined answers join and private. Events are already encoded (with their ids).
type Joined struct {
	Type       string            `json:"type"`
	Ref        string            `json:"ref,omitempty"`
	ChatroomID string            `json:"chatroomId"`
	Private    bool              `json:"private"`
	Peer       string            `json:"peer,omitempty"`
	Recovered  bool              `json:"recovered"`
	ReadUpTo   uint64            `json:"readUpTo"`
	Mode       string            `json:"mode"`                // open, readonly or members
	Moderator  bool              `json:"moderator,omitempty"` // the session's user is one
	Events     []json.RawMessage `json:"events"`
}

// Left answers leave; unsolicited, with a reason, when the session was made to leave.
type Left struct {
	Type       string `json:"type"`
	Ref        string `json:"ref,omitempty"`
	ChatroomID string `json:"chatroomId"`
	Reason     string `json:"reason,omitempty"` // LeftBanned, LeftDeleted
}

// Reasons of an unsolicited left.
const (
	LeftBanned  = "banned"  // a moderator banned the user from the room
	LeftDeleted = "deleted" // the server API deleted the room
)

// Ack answers message once the event is durably stored (and ban, without an id).
type Ack struct {
	Type       string `json:"type"`
	Ref        string `json:"ref,omitempty"`
	ChatroomID string `json:"chatroomId"`
	ID         uint64 `json:"id,omitempty"`
}

// History answers history (and GET /history, without type and ref).
type History struct {
	Type       string            `json:"type,omitempty"`
	Ref        string            `json:"ref,omitempty"`
	ChatroomID string            `json:"chatroomId,omitempty"`
	Events     []json.RawMessage `json:"events"`
}

// UserInfo is one online user.
type UserInfo struct {
	UserID   string `json:"userId"`
	Sessions int    `json:"sessions"`
}

// Users answers users.
type Users struct {
	Type  string     `json:"type,omitempty"`
	Ref   string     `json:"ref,omitempty"`
	Users []UserInfo `json:"users"`
}

// RoomInfo is one room of a rooms reply.
type RoomInfo struct {
	ChatroomID string `json:"chatroomId"`
	Users      int    `json:"users"`
	Private    bool   `json:"private"`
	Peer       string `json:"peer,omitempty"`
	Mode       string `json:"mode,omitempty"`      // open, readonly or members
	Moderator  bool   `json:"moderator,omitempty"` // the user is one of the room's moderators
	// Unread counts the message events by other users above the user's read marker, up
	// to MaxUnread; nil when the user has no marker in the room.
	Unread *int `json:"unread,omitempty"`
}

// MaxUnread caps RoomInfo.Unread: MaxUnread means "that many or more".
const MaxUnread = 100

// Read is a read marker: the reply to read (with its ref) and the notice every other
// session of the user gets.
type Read struct {
	Type       string `json:"type"`
	Ref        string `json:"ref,omitempty"`
	ChatroomID string `json:"chatroomId"`
	ID         uint64 `json:"id"`
}

// Typing tells a room's members that a user is typing.
type Typing struct {
	Type       string `json:"type"`
	ChatroomID string `json:"chatroomId"`
	UserID     string `json:"userId"`
}

// Rooms answers rooms.
type Rooms struct {
	Type  string     `json:"type,omitempty"`
	Ref   string     `json:"ref,omitempty"`
	Rooms []RoomInfo `json:"rooms"`
	// Next, on GET /rooms, is the after= of the next page when there is one.
	Next string `json:"next,omitempty"`
}

// ErrorReply is an in-band error; the connection stays open.
type ErrorReply struct {
	Type    string `json:"type"`
	Ref     string `json:"ref,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Encode marshals a reply. Replies hold only plain data, so it cannot fail.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("protocol: encode reply: " + err.Error())
	}
	return b
}

// EncodeError encodes an in-band error reply.
func EncodeError(ref string, e *Error) []byte {
	return Encode(ErrorReply{Type: TypeError, Ref: ref, Code: e.Code, Message: e.Message})
}

// EncodeEvents encodes a reply whose last field is "events" (encoded as an empty list by
// head) with the given already-encoded events, without encoding them again.
func EncodeEvents(head any, events [][]byte) []byte {
	return EncodeEventsWithIDs(head, events, nil)
}

// EncodeEventsWithIDs is EncodeEvents of stored payloads, each given its id (id(i), see
// WithID) as it is copied in; a nil id copies them as they are.
func EncodeEventsWithIDs(head any, events [][]byte, id func(i int) uint64) []byte {
	b := Encode(head)
	n := len(b) - 2 // b ends with `[]}`, or `null}`: keep what comes before the `]` or the `n`
	if bytes.HasSuffix(b, []byte("null}")) {
		b = append(b[:len(b)-5], '[', ']', '}')
		n = len(b) - 2
	}
	size := n + 2
	for _, e := range events {
		size += len(e) + 1
		if id != nil {
			size += 28 // {"id":N, at most
		}
	}
	out := make([]byte, 0, size)
	out = append(out, b[:n]...)
	for i, e := range events {
		if i > 0 {
			out = append(out, ',')
		}
		if id != nil {
			out = AppendWithID(out, e, id(i))
		} else {
			out = append(out, e...)
		}
	}
	return append(out, ']', '}')
}
