package protocol

import (
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
)

// Event keeps the shape of the original message hub's Event. ID is the event's position in
// the durable stream; it is not part of the stored payload (the stream sequence is the id)
// and is added on the way out by WithID.
type Event struct {
	ID         uint64 `json:"id,omitempty"`
	ChatroomID string `json:"chatroomId,omitempty"`
	Type       string `json:"type"`
	UserID     string `json:"userId,omitempty"`
	SessionID  string `json:"sessionId,omitempty"`
	Message    string `json:"message,omitempty"`
	UnixTime   int64  `json:"unixTime"`
}

// Marshal encodes e. Events hold only strings and numbers, so it cannot fail.
func (e *Event) Marshal() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic("protocol: marshal event: " + err.Error())
	}
	return b
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
	case TypeMessage, TypeJoin, TypeAdd, TypeRemove, TypeLeave:
		return true
	}
	return false
}
