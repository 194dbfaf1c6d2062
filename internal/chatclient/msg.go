package chatclient

import (
	"encoding/json"
	"fmt"

	"github.com/chathub/chathub/internal/protocol"
)

// Msg is one object a gateway sent, decoded loosely, with its raw JSON.
type Msg struct {
	Type       string            `json:"type"`
	Ref        string            `json:"ref"`
	ID         uint64            `json:"id"`
	ChatroomID string            `json:"chatroomId"`
	UserID     string            `json:"userId"`
	SessionID  string            `json:"sessionId"`
	Message    string            `json:"message"`
	Code       string            `json:"code"`
	Private    bool              `json:"private"`
	Peer       string            `json:"peer"`
	Recovered  bool              `json:"recovered"`
	GatewayID  string            `json:"gatewayId"`
	Events     []Msg             `json:"events"`
	Users      []json.RawMessage `json:"users"`
	Rooms      []json.RawMessage `json:"rooms"`
	// Version 1.1.
	Protocol string          `json:"protocol"`
	Target   uint64          `json:"target"`
	ReplyTo  uint64          `json:"replyTo"`
	Data     json.RawMessage `json:"data"`
	Emoji    string          `json:"emoji"`
	On       *bool           `json:"on"`
	ReadUpTo uint64          `json:"readUpTo"`
	// Rooms with rules.
	Mode      string          `json:"mode"`
	Moderator bool            `json:"moderator"`
	Reason    string          `json:"reason"` // of an unsolicited left: banned, deleted
	Raw       json.RawMessage `json:"-"`
}

// Decode reads one object of a gateway frame. Raw is a copy of line.
func Decode(line []byte) (Msg, error) {
	var m Msg
	if err := json.Unmarshal(line, &m); err != nil {
		return Msg{}, fmt.Errorf("chatclient: bad JSON from gateway: %.200q: %w", line, err)
	}
	m.Raw = append(json.RawMessage(nil), line...)
	return m, nil
}

// Stored reports whether m is a stored event of a room (it has an id).
func (m Msg) Stored() bool { return m.ID != 0 && protocol.Stored(m.Type) }

// Presence reports whether m is a join, add, remove or leave.
func (m Msg) Presence() bool {
	switch m.Type {
	case protocol.TypeJoin, protocol.TypeAdd, protocol.TypeRemove, protocol.TypeLeave:
		return true
	}
	return false
}

// UserList decodes the users of a users reply.
func (m Msg) UserList() ([]protocol.UserInfo, error) { return decodeAll[protocol.UserInfo](m.Users) }

// RoomList decodes the rooms of a rooms reply.
func (m Msg) RoomList() ([]protocol.RoomInfo, error) { return decodeAll[protocol.RoomInfo](m.Rooms) }

func decodeAll[T any](raws []json.RawMessage) ([]T, error) {
	out := make([]T, 0, len(raws))
	for _, r := range raws {
		var v T
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// IDs returns the ids of the stored events among msgs, in order.
func IDs(msgs []Msg) []uint64 {
	var out []uint64
	for _, m := range msgs {
		if m.ID != 0 {
			out = append(out, m.ID)
		}
	}
	return out
}

// String is the event or reply in short, for reports: "message 12 alice/s1 lobby".
func (m Msg) String() string {
	switch {
	case m.ID != 0:
		s := fmt.Sprintf("%s %d %s", m.Type, m.ID, m.UserID)
		if m.SessionID != "" {
			s += "/" + m.SessionID
		}
		return s + " " + m.ChatroomID
	case m.Type == "error":
		return fmt.Sprintf("error %s (ref %q): %s", m.Code, m.Ref, m.Message)
	}
	return string(m.Raw)
}
