package protocol

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// Command types (client to gateway).
const (
	CmdJoin    = "join"
	CmdLeave   = "leave"
	CmdMessage = "message"
	CmdPrivate = "private"
	CmdHistory = "history"
	CmdUsers   = "users"
	CmdRooms   = "rooms"
	CmdAuth    = "auth"    // the token, as a connection's first frame (token mode)
	CmdRefresh = "refresh" // a newer token for the same user (token mode)
	// Version 1.1.
	CmdEdit   = "edit"
	CmdDelete = "delete"
	CmdReact  = "react"
	CmdTyping = "typing"
	CmdRead   = "read"
	CmdBan    = "ban" // a moderator bans a user from a room, or lifts the ban
)

// Default page sizes.
const (
	DefaultLimit      = 50   // join without since, history
	DefaultSinceLimit = 1000 // join with since
)

// Command is one decoded and validated client command. Pointer fields are nil when absent.
type Command struct {
	Type       string  `json:"type"`
	Ref        string  `json:"ref,omitempty"`
	ChatroomID string  `json:"chatroomId,omitempty"`
	UserID     string  `json:"userId,omitempty"`
	Message    *string `json:"message,omitempty"`
	Since      *int64  `json:"since,omitempty"`
	Before     *int64  `json:"before,omitempty"`
	Limit      *int64  `json:"limit,omitempty"`
	Token      string  `json:"token,omitempty"`
	// Version 1.1.
	ID      *int64          `json:"id,omitempty"`      // edit, delete, react: the target; read: the marker
	ReplyTo *int64          `json:"replyTo,omitempty"` // message
	Data    json.RawMessage `json:"data,omitempty"`    // message: an object, as sent
	Emoji   *string         `json:"emoji,omitempty"`   // react
	On      *bool           `json:"on,omitempty"`      // react, ban
}

// Decode parses one client frame into a validated command. On failure it returns the
// protocol error to send back and, when it could be read, the command's ref to echo.
func Decode(frame []byte) (*Command, string, *Error) {
	if !utf8.Valid(frame) {
		return nil, "", Errorf(CodeBadRequest, "frame is not valid UTF-8")
	}
	var c Command
	dec := json.NewDecoder(bytes.NewReader(frame))
	if err := dec.Decode(&c); err != nil {
		return nil, refOf(frame), Errorf(CodeBadRequest, "not a JSON command object")
	}
	if len(bytes.TrimSpace(frame[dec.InputOffset():])) != 0 {
		return nil, "", Errorf(CodeBadRequest, "one command per frame")
	}
	if e := c.validate(); e != nil {
		if utf8.RuneCountInString(c.Ref) > MaxRefLen {
			return nil, "", e
		}
		return nil, c.Ref, e
	}
	return &c, c.Ref, nil
}

// refOf digs the ref out of a frame whose other fields are ill-typed.
func refOf(frame []byte) string {
	var r struct {
		Ref string `json:"ref"`
	}
	if json.Unmarshal(frame, &r) != nil || utf8.RuneCountInString(r.Ref) > MaxRefLen {
		return ""
	}
	return r.Ref
}

func (c *Command) validate() *Error {
	if utf8.RuneCountInString(c.Ref) > MaxRefLen {
		return Errorf(CodeBadRequest, "ref is over 64 characters")
	}
	switch c.Type {
	case CmdJoin:
		return firstError(c.room(), c.nonNegative("since", c.Since), c.limit())
	case CmdLeave:
		return c.room()
	case CmdMessage:
		if e := c.room(); e != nil {
			return e
		}
		if c.Message == nil {
			return Errorf(CodeBadRequest, "message is missing")
		}
		return firstError(CheckMessage(*c.Message), c.positive("replyTo", c.ReplyTo, false), CheckData(c.Data))
	case CmdEdit:
		if e := firstError(c.room(), c.positive("id", c.ID, true)); e != nil {
			return e
		}
		if c.Message == nil {
			return Errorf(CodeBadRequest, "message is missing")
		}
		return CheckMessage(*c.Message)
	case CmdDelete:
		return firstError(c.room(), c.positive("id", c.ID, true))
	case CmdReact:
		if e := firstError(c.room(), c.positive("id", c.ID, true)); e != nil {
			return e
		}
		if c.Emoji == nil {
			return Errorf(CodeBadRequest, "emoji is missing")
		}
		if c.On == nil {
			return Errorf(CodeBadRequest, "on is missing")
		}
		return CheckEmoji(*c.Emoji)
	case CmdTyping:
		return c.room()
	case CmdBan:
		if e := c.room(); e != nil {
			return e
		}
		if c.UserID == "" {
			return Errorf(CodeBadRequest, "userId is missing")
		}
		if !ValidName(c.UserID) {
			return Errorf(CodeInvalidUser, "userId must be 1 to 64 of A-Z a-z 0-9 _ -")
		}
		if c.On == nil {
			return Errorf(CodeBadRequest, "on is missing")
		}
		return nil
	case CmdRead:
		if e := c.room(); e != nil {
			return e
		}
		if c.ID == nil {
			return Errorf(CodeBadRequest, "id is missing")
		}
		return c.nonNegative("id", c.ID)
	case CmdPrivate:
		if c.UserID == "" {
			return Errorf(CodeBadRequest, "userId is missing")
		}
		if !ValidName(c.UserID) {
			return Errorf(CodeInvalidUser, "userId must be 1 to 64 of A-Z a-z 0-9 _ -")
		}
		return nil
	case CmdHistory:
		return firstError(c.room(), c.nonNegative("before", c.Before), c.limit())
	case CmdUsers, CmdRooms:
		return nil
	case CmdAuth, CmdRefresh:
		if c.Token == "" {
			return Errorf(CodeBadRequest, "token is missing")
		}
		return nil
	case "":
		return Errorf(CodeBadRequest, "type is missing")
	}
	return Errorf(CodeBadRequest, "unknown command type")
}

func (c *Command) room() *Error {
	if c.ChatroomID == "" {
		return Errorf(CodeBadRequest, "chatroomId is missing")
	}
	if !ValidName(c.ChatroomID) {
		return Errorf(CodeInvalidRoom, "chatroomId must be 1 to 64 of A-Z a-z 0-9 _ -")
	}
	return nil
}

func (c *Command) nonNegative(name string, v *int64) *Error {
	if v != nil && *v < 0 {
		return Errorf(CodeBadRequest, "%s must not be negative", name)
	}
	return nil
}

// positive checks an event id: at least 1; required says whether it may be absent.
func (c *Command) positive(name string, v *int64, required bool) *Error {
	switch {
	case v == nil && required:
		return Errorf(CodeBadRequest, "%s is missing", name)
	case v != nil && *v < 1:
		return Errorf(CodeBadRequest, "%s must be an event id (1 or more)", name)
	}
	return nil
}

func (c *Command) limit() *Error {
	if c.Limit != nil && (*c.Limit < 1 || *c.Limit > MaxLimit) {
		return Errorf(CodeBadRequest, "limit must be 1 to 1000")
	}
	return nil
}

// LimitOr returns the command's limit, or def when it has none.
func (c *Command) LimitOr(def int) int {
	if c.Limit == nil {
		return def
	}
	return int(*c.Limit)
}

func firstError(errs ...*Error) *Error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
