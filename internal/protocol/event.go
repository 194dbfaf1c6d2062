package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Event types.
const (
	TypeMessage = "message"
	TypeJoin    = "join"
	TypeAdd     = "add"
	TypeRemove  = "remove"
	TypeLeave   = "leave"
	TypeOnline  = "online"
	TypeOffline = "offline"
	TypeClose   = "close"
	// Version 1.1: stored events that refer to a message by its id (Target).
	TypeEdit     = "edit"
	TypeDelete   = "delete"
	TypeReaction = "reaction"
	// Version 1.1 notices, not stored.
	TypeTyping = "typing"
	TypeRead   = "read"
)

// Event keeps the shape of the original message hub's Event. ID is the event's position in
// the durable stream; it is not part of the stored payload (the stream sequence is the id)
// and is added on the way out by WithID.
type Event struct {
	ID         uint64 `json:"id,omitempty"`
	ChatroomID string `json:"chatroomId,omitempty"`
	Type       string `json:"type"`
	// Target is the message an edit, delete or reaction refers to. It comes right after
	// type, so Peek finds it without decoding the event.
	Target    uint64          `json:"target,omitempty"`
	UserID    string          `json:"userId,omitempty"`
	System    bool            `json:"system,omitempty"` // posted by the application's backend, no userId
	SessionID string          `json:"sessionId,omitempty"`
	Message   string          `json:"message,omitempty"`
	ReplyTo   uint64          `json:"replyTo,omitempty"` // a message this one answers
	Data      json.RawMessage `json:"data,omitempty"`    // the client's object, compacted
	Emoji     string          `json:"emoji,omitempty"`   // reaction
	On        *bool           `json:"on,omitempty"`      // reaction: added (true) or taken back
	UnixTime  int64           `json:"unixTime"`
}

// Marshal encodes e. Events hold strings, numbers and Data, which the gateway takes only
// from a decoded (so valid) command, so it cannot fail.
//
// HTML characters are not escaped, so a message's data is stored as the client sent it
// (compacted by the caller); U+2028 and U+2029 still are, and JSON never holds a raw
// newline, so an event never splits a gateway frame.
func (e *Event) Marshal() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		panic("protocol: marshal event: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// WithID returns a stored payload (a JSON object without "id") with "id" as its first field:
// {"chatroomId":...} becomes {"id":42,"chatroomId":...}. The result is what clients see.
func WithID(stored []byte, id uint64) []byte {
	if len(stored) < 2 || stored[0] != '{' {
		return stored
	}
	return AppendWithID(make([]byte, 0, len(stored)+24), stored, id)
}

// AppendWithID appends WithID(stored, id) to dst.
func AppendWithID(dst, stored []byte, id uint64) []byte {
	if len(stored) < 2 || stored[0] != '{' {
		return append(dst, stored...)
	}
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	if stored[1] != '}' {
		dst = append(dst, ',')
	}
	return append(dst, stored[1:]...)
}

// CloseEvent is the close event: this gateway is shutting down.
func CloseEvent() []byte {
	return (&Event{Type: TypeClose, UnixTime: time.Now().Unix()}).Marshal()
}

// Stored reports whether events of this type go to the durable stream.
func Stored(typ string) bool {
	switch typ {
	case TypeMessage, TypeJoin, TypeAdd, TypeRemove, TypeLeave, TypeEdit, TypeDelete, TypeReaction:
		return true
	}
	return false
}

// IsPresence reports whether events of this type tell who is in a room: join, add, remove,
// leave.
func IsPresence(typ string) bool {
	switch typ {
	case TypeJoin, TypeAdd, TypeRemove, TypeLeave:
		return true
	}
	return false
}

// Peek reads an encoded event's type and target without decoding it: the type as one of
// the Type constants ("" when it is none of them) and the target (0 when none). It relies
// on the field order of Event (chatroomId, type, target), which Marshal keeps.
func Peek(ev []byte) (typ string, target uint64) {
	const key = `"type":"`
	i := bytes.Index(ev, []byte(key))
	if i < 0 {
		return "", 0
	}
	rest := ev[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", 0
	}
	typ = knownType(rest[:j])
	rest = rest[j+1:]
	const tkey = `,"target":`
	if !bytes.HasPrefix(rest, []byte(tkey)) {
		return typ, 0
	}
	for _, c := range rest[len(tkey):] {
		if c < '0' || c > '9' {
			break
		}
		target = target*10 + uint64(c-'0')
	}
	return typ, target
}

// knownType returns b as one of the event types, without allocating.
func knownType(b []byte) string {
	for _, t := range [...]string{TypeMessage, TypeJoin, TypeAdd, TypeRemove, TypeLeave, TypeEdit, TypeDelete, TypeReaction} {
		if string(b) == t {
			return t
		}
	}
	return ""
}

// PeekUser reads an encoded event's userId without decoding it ("" when it has none). The
// first "userId" key is the event's own: Event's fields before it hold names and numbers
// only, and a quote inside a string is always escaped.
func PeekUser(ev []byte) string {
	const key = `"userId":"`
	i := bytes.Index(ev, []byte(key))
	if i < 0 {
		return ""
	}
	rest := ev[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
