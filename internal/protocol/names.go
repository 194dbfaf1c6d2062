// Package protocol holds the wire contract between a gateway and its clients: the events,
// commands and replies of docs/protocol.md, the name rules, and the error codes.
// It knows nothing of NATS or WebSockets.
package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the protocol.
const (
	MaxNameLen    = 64    // userId, chatroomId, sessionId
	MaxRefLen     = 64    // ref
	MaxMessageLen = 4000  // message text, in bytes
	MaxDataLen    = 4096  // a message's data object, in bytes as sent
	MaxEmojiLen   = 32    // a reaction's emoji, in bytes
	MaxLimit      = 1000  // limit of join and history
	MaxFrameSize  = 65536 // a client frame over this closes the connection with 1009
	PrivatePrefix = "dm-" // private rooms; only the gateway makes them
)

// ValidName reports whether s is 1 to 64 characters of A-Z a-z 0-9 _ -.
// Every user, room and session id passes here before it reaches a NATS subject.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// IsPrivate reports whether room is a private room's id.
func IsPrivate(room string) bool { return strings.HasPrefix(room, PrivatePrefix) }

// CheckMessage applies the message rules: valid UTF-8, not empty after trimming Unicode white
// space, at most MaxMessageLen bytes.
func CheckMessage(m string) *Error {
	if !utf8.ValidString(m) {
		return Errorf(CodeBadRequest, "message is not valid UTF-8")
	}
	if strings.TrimSpace(m) == "" {
		return Errorf(CodeBadRequest, "message is empty")
	}
	if len(m) > MaxMessageLen {
		return Errorf(CodeTooLarge, "message is over 4000 bytes")
	}
	return nil
}

// CheckData checks a message's data as sent: absent, or a JSON object of at most
// MaxDataLen bytes. The decoder has already checked that it is valid JSON.
func CheckData(d json.RawMessage) *Error {
	if d == nil {
		return nil
	}
	if len(d) > MaxDataLen {
		return Errorf(CodeBadRequest, "data is over 4096 bytes")
	}
	if t := bytes.TrimSpace(d); len(t) == 0 || t[0] != '{' {
		return Errorf(CodeBadRequest, "data must be a JSON object")
	}
	return nil
}

// CheckEmoji checks a reaction's emoji: 1 to MaxEmojiLen bytes of UTF-8 without white space.
func CheckEmoji(e string) *Error {
	if e == "" || len(e) > MaxEmojiLen || !utf8.ValidString(e) || strings.IndexFunc(e, unicode.IsSpace) >= 0 {
		return Errorf(CodeBadRequest, "emoji must be 1 to 32 bytes of UTF-8 without white space")
	}
	return nil
}
